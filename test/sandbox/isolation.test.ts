/**
 * The RUN sandbox, for real: namespaces and a busybox root filesystem, each test once with each
 * runtime (tsbuild-sandbox-exec, which a default step gets, and runc). CI runs as root, where
 * these must run; on a machine without root they fail with ERR_TSBUILD_SANDBOX_UNAVAILABLE.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { nullProgress } from '../../src/progress/index.js';
import { createSandboxSpec, runSandbox, type SandboxInput, type SandboxRuntime } from '../../src/sandbox/index.js';
import { busyboxTar } from '../helpers/tsbuild.js';
import { mountsMatching } from '../helpers/mounts.js';

async function rootfs(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-sbx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  execFileSync('tar', ['-xf', busyboxTar(), '-C', dir]);
  return dir;
}

const runtimes: SandboxRuntime[] = ['sandbox-exec', 'runc'];
const options = (runtime: SandboxRuntime) => ({ runtime: runtime === 'runc' ? ('runc' as const) : ('auto' as const) });

/** Registers `fn` once per runtime. */
function both(title: string, fn: (t: import('ava').ExecutionContext, runtime: SandboxRuntime) => Promise<void>): void {
  for (const runtime of runtimes) test(`${title} [${runtime}]`, (t) => fn(t, runtime));
}

async function sh(t: import('ava').ExecutionContext, runtime: SandboxRuntime, root: string, script: string, extra: Partial<SandboxInput> = {}) {
  let out = '';
  let err = '';
  const spec = createSandboxSpec({ rootfs: { kind: 'dir', path: root }, args: ['/bin/sh', '-c', script], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none', ...extra });
  const r = await runSandbox({ signal: new AbortController().signal, progress: nullProgress }, spec, { onStdout: (c) => (out += c), onStderr: (c) => (err += c) }, options(runtime));
  t.log(err.trim());
  t.is(r.runtime, runtime, 'the step ran in the runtime under test');
  return { ...r, out, err };
}

both('runs a command: output, exit code, environment, working dir created for the user', async (t, runtime) => {
  const root = await rootfs(t);
  const r = await sh(t, runtime, root, 'echo "$GREETING"; pwd; id; exit 7', { env: ['GREETING=hi'], cwd: '/work/dir', user: { uid: 1000, gid: 1000, additionalGids: [50] } });
  t.is(r.exitCode, 7);
  t.is(r.out, 'hi\n/work/dir\nuid=1000(app) gid=1000(app) groups=50(staff)\n');
  const st = await stat(path.join(root, 'work/dir'));
  t.is(st.uid, 1000);
  t.is((await sh(t, runtime, root, 'echo $PATH')).out, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
});

both('no_new_privs is off and the capabilities are BuildKit\'s default set (Docker 26 lab: NoNewPrivs 0, CapEff a80425fb)', async (t, runtime) => {
  const root = await rootfs(t);
  const r = await sh(t, runtime, root, "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status");
  t.is(r.out, 'CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t0\n');
});

both('a seccomp filter as under BuildKit: Seccomp 2, no new user namespace (allowed to unprivileged users on this kernel), child processes still work', async (t, runtime) => {
  const root = await rootfs(t);
  // busybox unshare -U asks for a user namespace (unshare(2)); ps/sh need clone for processes.
  const r = await sh(t, runtime, root, "grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null && echo userns || echo no-userns; (sleep 0 &) ; wait; echo child-ok");
  t.is(r.exitCode, 0);
  t.is(r.out, 'Seccomp:\t2\nno-userns\nchild-ok\n');
});

both('--network=none still gets the host\'s resolv.conf, minus loopback resolvers (as BuildKit, Docker 26 lab)', async (t, runtime) => {
  const root = await rootfs(t);
  const hostResolvConf = 'search example.org\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nnameserver ::1\noptions ndots:2\n';
  const r = await sh(t, runtime, root, 'cat /etc/resolv.conf', { hostResolvConf });
  t.is(r.out, 'search example.org\nnameserver 10.1.2.3\noptions ndots:2\n');
});

both('sees no host file, no host process and not the host name', async (t, runtime) => {
  const root = await rootfs(t);
  const marker = path.join(os.tmpdir(), `tsbuild-host-marker-${process.pid}`);
  await writeFile(marker, 'host');
  t.teardown(() => rm(marker, { force: true }));
  const r = await sh(t, runtime, root, `test -e ${marker} && echo visible || echo hidden; ps -o pid,comm | tail -n +2 | wc -l; hostname`);
  const [file, procs, host] = r.out.trim().split('\n');
  t.is(file, 'hidden');
  t.true(Number(procs) <= 4, `only its own processes, saw ${procs}`);
  t.is(host, 'buildkitsandbox');
  t.not(host, os.hostname());
  const etc = await sh(t, runtime, root, 'cat /etc/hostname; grep -c buildkitsandbox /etc/hosts');
  t.is(etc.out, 'buildkitsandbox\n1\n');
  // The generated files are bind mounts: nothing of them is left in the rootfs afterwards.
  await t.throwsAsync(stat(path.join(root, 'etc/hostname')));
});

both('a read-only dir rootfs cannot be written', async (t, runtime) => {
  const root = await rootfs(t);
  const r = await sh(t, runtime, root, 'touch /newfile && echo wrote || echo refused', { rootfs: { kind: 'dir', path: root, readonly: true } });
  t.is(r.out.trim(), 'refused');
  await t.throwsAsync(stat(path.join(root, 'newfile')));
});

both('cannot write into a host directory that is not mounted (the build context)', async (t, runtime) => {
  const root = await rootfs(t);
  const context = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ctx-'));
  t.teardown(() => rm(context, { recursive: true, force: true }));
  await sh(t, runtime, root, `mkdir -p ${context} && echo pwned > ${context}/file`);
  await t.throwsAsync(readFile(path.join(context, 'file')));
});

both('--network=none: only loopback, and a server on the host is unreachable; default reaches it', async (t, runtime) => {
  const root = await rootfs(t);
  const server = net.createServer((s) => s.end('hello\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  // Loopback is up (runc brings it up in a new network namespace): a step can serve itself.
  const none = await sh(t, runtime, root, `ip -o link | cut -d: -f2 | tr -d ' '; ip -o link show lo | grep -q 'LOOPBACK,UP' && echo lo-up; echo | nc -w 2 127.0.0.1 ${port} || echo unreachable`);
  t.is(none.out, 'lo\nlo-up\nunreachable\n');
  const host = await sh(t, runtime, root, `echo | nc -w 2 127.0.0.1 ${port}`, { network: 'default' });
  t.is(host.out, 'hello\n');
});

both('cannot mount (no CAP_SYS_ADMIN)', async (t, runtime) => {
  const root = await rootfs(t);
  const r = await sh(t, runtime, root, 'mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && echo mounted || echo refused');
  t.is(r.out.trim(), 'refused');
});

both('a device node it makes of a device outside the default list cannot be opened (mknod works, as under runc)', async (t, runtime) => {
  const root = await rootfs(t);
  // /dev/fuse (c 10:229): opening it needs no capability, so only the device rules stop the step.
  // (This machine refuses its block devices even to the host's root: a disk node proves nothing.)
  execFileSync('sh', ['-c', `mknod ${root}/fuse-probe c 10 229 && exec 3<${root}/fuse-probe; rm -f ${root}/fuse-probe`]);
  const r = await sh(t, runtime, root, 'mknod /tmp/fuse c 10 229 && ( (exec 3</tmp/fuse) 2>/dev/null && echo opened || echo denied)');
  t.is(r.out.trim(), 'denied');
});

both('a chroot escape by root inside the RUN stays inside the rootfs', async (t, runtime) => {
  const root = await rootfs(t);
  const marker = `/tsbuild-host-only-${process.pid}`;
  await writeFile(marker, 'host');
  t.teardown(() => rm(marker, { force: true }));
  const src = path.join(root, 'esc.c');
  await writeFile(
    src,
    `#include <unistd.h>\n#include <sys/stat.h>\nint main(){mkdir("jail",0755);if(chroot("jail"))return 2;for(int i=0;i<64;i++)chdir("..");if(chroot("."))return 3;execl("/bin/sh","sh","-c","test -e ${marker} && echo escaped || echo contained",(char*)0);return 4;}\n`,
  );
  execFileSync('gcc', ['-static', '-O2', '-o', path.join(root, 'esc'), src]);
  const r = await sh(t, runtime, root, 'cd /tmp && /esc');
  t.is(r.out.trim(), 'contained');
});

// Each runtime's run of a test sleeps for its own number of seconds: the two run at once.
const sleepBase = (runtime: SandboxRuntime) => (runtime === 'runc' ? 1000 : 1010);

both('cancel kills every process of the step and leaves no mount or process behind', async (t, runtime) => {
  const base = sleepBase(runtime);
  const root = await rootfs(t);
  const ours = () => mountsMatching(`tsbuild-run-${process.pid}-`, root);
  const mountsBefore = ours();
  const ac = new AbortController();
  const spec = createSandboxSpec({ rootfs: { kind: 'dir', path: root }, args: ['/bin/sh', '-c', `sleep ${base} & sleep ${base + 1}`], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' });
  const started = Date.now();
  setTimeout(() => ac.abort(new Error('cancel')), 500);
  const err = await t.throwsAsync(runSandbox({ signal: ac.signal, progress: nullProgress }, spec, {}, options(runtime)));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_CANCELLED');
  t.true(Date.now() - started < 5000);
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  t.false(ps.includes(`sleep ${base}\n`) || ps.includes(`sleep ${base + 1}\n`), 'no sleep left');
  t.deepEqual(ours(), mountsBefore);
});

both('a cancel that lands while the sandbox is still being set up never starts the step', async (t, runtime) => {
  const base = sleepBase(runtime);
  const root = await rootfs(t);
  const ours = () => mountsMatching(`tsbuild-run-${process.pid}-`, root);
  const mountsBefore = ours();
  const spec = createSandboxSpec({ rootfs: { kind: 'dir', path: root }, args: ['/bin/sh', '-c', `sleep ${base + 2}`], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' });
  // Abort from inside the setup: the first write of the bundle's files happens after the listener-free phase began.
  const ac = new AbortController();
  const signal = new Proxy(ac.signal, {
    get(target, prop) {
      // Abort as soon as the runner first asks whether it was cancelled after setup started.
      if (prop === 'aborted' && !ac.signal.aborted && (setupChecks += 1) === 2) ac.abort(new Error('cancel'));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  let setupChecks = 0;
  const started = Date.now();
  const err = await t.throwsAsync(runSandbox({ signal, progress: nullProgress }, spec, {}, options(runtime)));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_CANCELLED');
  t.true(Date.now() - started < 5000);
  t.false(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(`sleep ${base + 2}\n`), 'the step never ran');
  t.deepEqual(ours(), mountsBefore);
});

both('CLI: SIGINT during a long RUN leaves the mount table and process table as before', async (t, runtime) => {
  const { createHarness } = await import('../helpers/tsbuild.js');
  // Both runtimes' runs of this test run at once: each waits for its own sleep.
  const sleep = `sleep ${runtime === 'runc' ? 987 : 986}`;
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'long');
  execFileSync('mkdir', ['-p', dir]);
  await writeFile(path.join(dir, 'Dockerfile'), `FROM busybox\nRUN ${sleep}\n`);
  const child = spawn(process.execPath, [path.resolve('bin/tsbuild.js'), 'build', '--progress=rawjson', dir], { env: { ...process.env, TSBUILD_ROOT: h.root, ...(runtime === 'runc' ? { TSBUILD_SANDBOX_RUNTIME: 'runc' } : {}) } });
  // Every mount of this build names its bundle or a dir of its state root (overlay lower/upper).
  const ours = () => mountsMatching(`tsbuild-run-${child.pid}-`, h.tmp);
  t.deepEqual(ours(), []);
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  child.stderr.resume();
  // Wait (bounded) until the step's process really runs; a loaded machine may take a while.
  const running = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(sleep);
  for (let i = 0; i < 300 && !running() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(running(), 'the RUN step started');
  // The runtime mounted the step's overlay root in the container's own mount namespace.
  const pid = new RegExp(`^\\s*(\\d+) ${sleep}$`, 'm').exec(execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }))?.[1];
  const ppid = execFileSync('ps', ['-o', 'ppid=', '-p', pid!], { encoding: 'utf8' }).trim();
  t.regex(execFileSync('ps', ['-o', 'args=', '-p', ppid], { encoding: 'utf8' }), runtime === 'runc' ? /^runc / : /tsbuild-sandbox-exec /, `the step runs under ${runtime}`);
  const root = (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).split('\n').find((l) => l.split(' ')[4] === '/');
  t.regex(root ?? '', new RegExp(` - overlay overlay .*upperdir=${h.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`), 'the step runs on an overlay of the state root');
  t.deepEqual(ours(), [], 'nothing of it is mounted on the host');
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.is(code, 130);
  t.false(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(sleep));
  t.deepEqual(ours(), []);
});
