/**
 * tsbuild-sandbox-exec against runc: the helper is built here (CI installs gcc and
 * libseccomp-dev), a step sees the same world from both runtimes, and configs the helper does not
 * cover go to runc.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nullProgress } from '../../src/progress/index.js';
import { createSandboxSpec, runSandbox, toOciRuntimeSpec, type SandboxInput, type SandboxRuntime } from '../../src/sandbox/index.js';
import { planSandboxExec } from '../../src/sandbox/exec-args.js';
import { sandboxExecBinary } from '../../src/sandbox/sandbox-exec.js';
import { createBusyboxRootfs } from '../helpers/busybox-rootfs.js';

/** A temp dir holding a busybox root filesystem in `root/`. */
async function rootfs(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-sbx-exec-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await createBusyboxRootfs(path.join(dir, 'root'));
  return dir;
}

async function run(input: SandboxInput, runtime: SandboxRuntime) {
  let out = '';
  let err = '';
  const r = await runSandbox({ signal: new AbortController().signal, progress: nullProgress }, createSandboxSpec(input), { onStdout: (c) => (out += c), onStderr: (c) => (err += c) }, { runtime: runtime === 'runc' ? 'runc' : 'auto' });
  return { ...r, out, err };
}

// What a step can observe of its sandbox, minus what differs by design (mount ids, the devices
// cgroup's name): identity, umask, environment, capabilities, seccomp, /dev, every mount with its
// options in order, limits and the processes it sees.
const PROBE = [
  'id; umask; hostname; pwd; env | sort',
  "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status",
  "stat -c '%n %F %a %u %g %t %T %N' /dev/* | sort",
  'awk \'{for(i=7;i<=NF;i++) if($i=="-"){print $5,$6,$(i+1),$(i+2),$(i+3); break}}\' /proc/self/mountinfo',
  'ulimit -a; ps -o user,comm',
  // Only loopback's state: the host's other interfaces (default network) may come and go meanwhile.
  "ip -o link show lo | grep -o 'LOOPBACK[^>]*'; cat /etc/hosts /etc/resolv.conf /etc/hostname",
  "ls -lan /run/secrets | awk '{print $1,$3,$4,$5,$NF}'; echo hi > /tmp/t/x && cat /tmp/t/x; touch /ro/y 2>&1; true",
].join('; echo ---; ');

test('the helper is built here, and a default step gets it', async (t) => {
  t.truthy(sandboxExecBinary(), 'dist/native/tsbuild-sandbox-exec exists (npm run build needs gcc, libc6-dev, libseccomp-dev)');
  const dir = await rootfs(t);
  const r = await run({ rootfs: { kind: 'dir', path: path.join(dir, 'root') }, args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' }, 'sandbox-exec');
  t.is(r.runtime, 'sandbox-exec');
  t.is(r.exitCode, 0);
});

const cases: Array<[string, Partial<SandboxInput>]> = [
  ['root, network none', { network: 'none' }],
  ['a user with groups, host network, env and a working dir', { network: 'default', user: { uid: 1000, gid: 1000, additionalGids: [50, 100] }, env: ['A=1', 'B=two words'], cwd: '/home' }],
];
for (const [name, extra] of cases) {
  test(`a step sees the same sandbox from both runtimes: ${name}`, async (t) => {
    const dir = await rootfs(t);
    const ro = path.join(dir, 'ro');
    await mkdir(ro);
    await writeFile(path.join(dir, 'secret'), 's3cret');
    const outputs: Record<string, string> = {};
    for (const runtime of ['sandbox-exec', 'runc'] as const) {
      // A fresh overlay root for each: the same layer below, its own upper dir.
      const upper = path.join(dir, `upper-${runtime}`);
      const work = path.join(dir, `work-${runtime}`);
      await mkdir(upper);
      await mkdir(work);
      const r = await run(
        {
          rootfs: { kind: 'overlay', lower: [path.join(dir, 'root')], upper, work },
          args: ['/bin/sh', '-c', PROBE],
          env: [],
          cwd: '/',
          user: { uid: 0, gid: 0, additionalGids: [] },
          network: 'none',
          hostResolvConf: 'nameserver 10.0.0.1\n',
          mounts: [
            { kind: 'bind', source: ro, target: '/ro', readonly: true },
            { kind: 'bind', source: path.join(dir, 'secret'), target: '/run/secrets/s', readonly: true },
            { kind: 'tmpfs', target: '/tmp/t', size: 1 << 20 },
          ],
          ...extra,
        },
        runtime,
      );
      t.is(r.runtime, runtime);
      t.is(r.exitCode, 0, r.err);
      outputs[runtime] = r.out.replaceAll(`upper-${runtime}`, 'upper').replaceAll(`work-${runtime}`, 'work');
    }
    t.log(outputs['sandbox-exec']);
    t.is(outputs['sandbox-exec'], outputs.runc);
  });
}

test('exit codes, a command not found and a signal end the same way under both runtimes', async (t) => {
  const dir = await rootfs(t);
  const input = (args: string[]): SandboxInput => ({ rootfs: { kind: 'dir', path: path.join(dir, 'root') }, args, env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' });
  for (const args of [['sh', '-c', 'exit 7'], ['no-such-command'], ['sh', '-c', 'sleep 5 & kill -9 $!; wait $!'], ['/bin']]) {
    const [fast, runc] = [await run(input(args), 'sandbox-exec'), await run(input(args), 'runc')];
    t.is(fast.exitCode, runc.exitCode, `${args.join(' ')}: ${fast.err} / ${runc.err}`);
    if (args[0] === 'no-such-command') t.regex(fast.err, /exec: "no-such-command": executable file not found in \$PATH/);
  }
});

test("HOME comes from the image's passwd; a FIFO there neither blocks the step nor is read", async (t) => {
  const dir = await rootfs(t);
  const root = path.join(dir, 'root');
  const input = (uid: number): SandboxInput => ({ rootfs: { kind: 'dir', path: root }, args: ['sh', '-c', 'echo $HOME'], env: [], cwd: '/', user: { uid, gid: uid, additionalGids: [] }, network: 'none' });
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nbuilder:x:1234:1234::/home/builder:/bin/sh\n');
  t.is((await run(input(1234), 'sandbox-exec')).out, '/home/builder\n');
  t.is((await run(input(4321), 'sandbox-exec')).out, '/\n', 'no entry: /');
  await rm(path.join(root, 'etc/passwd'));
  execFileSync('mkfifo', [path.join(root, 'etc/passwd')]);
  t.is((await run(input(0), 'sandbox-exec')).out, '/\n');
});

test('on cgroup v2 the device rules are an eBPF filter: allowed devices open, a node of another made in the step does not, and --security=insecure allows all', async (t) => {
  // This machine has both hierarchies: TSBUILD_SANDBOX_DEVICES=cgroup2 makes the helper use the
  // v2 one, as on a unified host. A child process, since the choice is made once per process.
  const v2 = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((d) => existsSync(path.join(d, 'cgroup.controllers')));
  t.truthy(v2, 'a cgroup v2 hierarchy is mounted');
  const dir = await rootfs(t);
  // /dev/fuse (c 10:229) is not in the default device list and opening it needs no capability
  // (this machine's block devices cannot be opened even by the host's root: a disk node proves nothing).
  execFileSync('sh', ['-c', `mknod ${dir}/fuse c 10 229 && exec 3<${dir}/fuse && rm ${dir}/fuse`]);
  const probe = `rm -f /tmp/null /tmp/fuse; cat /proc/self/cgroup | grep '^0::'; echo x > /dev/null && head -c 1 /dev/zero | wc -c; mknod /tmp/null c 1 3 && echo y > /tmp/null && echo own-null-ok; mknod /tmp/fuse c 10 229 && ( (exec 3</tmp/fuse) 2>/dev/null && echo fuse-opened || echo fuse-denied)`;
  const script = path.join(dir, 'v2.mts');
  await writeFile(
    script,
    `import { createSandboxSpec, runSandbox } from ${JSON.stringify(path.resolve('src/sandbox/index.ts'))};
import { nullProgress } from ${JSON.stringify(path.resolve('src/progress/index.ts'))};
for (const privileged of [false, true]) {
  let out = '';
  const spec = createSandboxSpec({ rootfs: { kind: 'dir', path: ${JSON.stringify(path.join(dir, 'root'))} }, args: ['/bin/sh', '-c', ${JSON.stringify(probe)}], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none', privileged });
  const r = await runSandbox({ signal: new AbortController().signal, progress: nullProgress }, spec, { onStdout: (c) => (out += c), onStderr: (c) => (out += c) });
  console.log(JSON.stringify({ runtime: r.runtime, out }));
}
`,
  );
  const lines = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', env: { ...process.env, TSBUILD_SANDBOX_DEVICES: 'cgroup2' } }).trim().split('\n');
  const [plain, insecure] = lines.map((l) => JSON.parse(l) as { runtime: string; out: string });
  t.is(plain!.runtime, 'sandbox-exec');
  t.regex(plain!.out, /^0::\/tsbuild-[0-9a-f]{12}\n1\nown-null-ok\nfuse-denied\n$/);
  t.is(insecure!.runtime, 'sandbox-exec');
  t.regex(insecure!.out, /^0::\/tsbuild-[0-9a-f]{12}\n1\nown-null-ok\nfuse-opened\n$/);
});

test('planSandboxExec: configs it does not fully cover are left to runc', (t) => {
  const base = toOciRuntimeSpec(createSandboxSpec({ rootfs: { kind: 'dir', path: '/r' }, args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' }), '/r', { hosts: '/h', resolvConf: '/c', hostname: '/n' }, '/tsbuild/x');
  const plan = planSandboxExec(base);
  t.truthy(plan);
  // runc's own defaults are part of the device list: mknod of anything, /dev/net/tun.
  t.deepEqual(plan!.devices!.deny, ['a *:* rwm']);
  t.true(['c *:* m', 'b *:* m', 'c 10:200 rwm', 'c 1:3 rwm', 'c 136:* rwm'].every((r) => plan!.devices!.allow.includes(r)));
  t.true(plan!.args.includes('--devices') && !plan!.args.includes('--bind-devices'));
  // Rootless: no cgroup, the host's device nodes bound in; a rootful config is not one.
  const rootlessSpec = toOciRuntimeSpec(createSandboxSpec({ rootfs: { kind: 'dir', path: '/r' }, args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none', rootless: true }), '/r', { hosts: '/h', resolvConf: '/c', hostname: '/n' }, '/tsbuild/x');
  const rootless = planSandboxExec(rootlessSpec, { rootless: true });
  t.is(rootless?.devices, undefined);
  t.true(rootless!.args.includes('--bind-devices') && !rootless!.args.includes('--devices'));
  t.is(planSandboxExec(base, { rootless: true }), undefined);
  t.is(planSandboxExec(rootlessSpec), undefined);
  t.deepEqual(plan!.args.slice(plan!.args.indexOf('--')), ['--', 'true']);
  // Destinations are cleaned as runc cleans them.
  const messy = toOciRuntimeSpec(createSandboxSpec({ rootfs: { kind: 'dir', path: '/r' }, args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none', mounts: [{ kind: 'tmpfs', target: 'cache//dir/', size: 0 }] }), '/r', { hosts: '/h', resolvConf: '/c', hostname: '/n' }, '/tsbuild/x');
  const margs = planSandboxExec(messy)!.args;
  t.deepEqual(margs.slice(margs.lastIndexOf('--mount'), margs.lastIndexOf('--mount') + 6), ['--mount', 'tmpfs', 'tmpfs', '/cache/dir', 'nosuid,nodev', 'mode=1777']);
  const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the variants reach into the OCI JSON freely
  type Config = any;
  const variants: Array<[string, (c: Config) => void]> = [
    ['an unknown top-level field', (c) => (c.annotations = {})],
    ['rlimits', (c) => (c.process.rlimits = [])],
    ['a user namespace', (c) => c.linux.namespaces.push({ type: 'user' })],
    ['a namespace path', (c) => (c.linux.namespaces[0].path = '/proc/1/ns/pid')],
    ['no cgroup resources (rootless)', (c) => delete c.linux.resources],
    ['a memory limit', (c) => (c.linux.resources.memory = { limit: 1 })],
    ['a non-recursive bind', (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/y', options: ['bind'] })],
    ['an unknown mount type', (c) => c.mounts.push({ destination: '/x', type: 'nfs', source: 'h:/y' })],
    ['inheritable capabilities', (c) => (c.process.capabilities.inheritable = ['CAP_KILL'])],
    ['an unknown capability', (c) => c.process.capabilities.bounding.push('CAP_NEW')],
    ['a seccomp rule with another action', (c) => c.linux.seccomp.syscalls.push({ names: ['ptrace'], action: 'SCMP_ACT_KILL' })],
    ['a seccomp argument rule on another call', (c) => c.linux.seccomp.syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 16, valueTwo: 16, op: 'SCMP_CMP_EQ' }] })],
    ['an allow before a deny in the device rules', (c) => c.linux.resources.devices.push({ allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' })],
    ['a terminal', (c) => (c.process.terminal = true)],
  ];
  for (const [what, change] of variants) {
    const c: Config = clone(base);
    change(c);
    t.is(planSandboxExec(c), undefined, what);
  }
});
