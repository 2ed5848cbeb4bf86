/**
 * Rootless builds for real: a throwaway unprivileged user (with and without /etc/subuid ranges)
 * imports a busybox image and builds through the CLI, which re-executes itself in a user
 * namespace. CI runs as root, which is what lets the test create and remove that user.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkUserNamespaces, createSandboxSpec, hostUserNamespaceProbe, toOciRuntimeSpec, parseSubIdFile, planIdMaps, unshareArgs, type UserNamespaceProbe } from '../../src/sandbox/index.js';
import { TsbuildError } from '../../src/errors/index.js';
import { busyboxTar, repo } from '../helpers/tsbuild.js';

const bin = path.join(repo, 'bin', 'tsbuild.js');
const isRoot = process.getuid?.() === 0;

/**
 * userdel removes a user's subordinate ranges itself; this only mends what an older shadow left.
 * The files are replaced by rename, never rewritten in place: another test's newuidmap may be
 * reading them at this very moment, and a truncated file would refuse its ranges.
 */
function removeSubIdLines(user: string): void {
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    const text = readFileSync(f, 'utf8');
    const kept = text.split('\n').filter((l) => !l.startsWith(`${user}:`)).join('\n');
    if (kept === text) continue;
    const tmp = `${f}.tsbuild-test-${process.pid}`;
    writeFileSync(tmp, kept);
    renameSync(tmp, f);
  }
}

interface TestUser {
  name: string;
  uid: number;
  gid: number;
  dir: string;
  /** Runs the built CLI as the user with a state root it owns. */
  tsbuild(args: string[], wrap?: string[]): ReturnType<typeof spawnSync>;
}

/** Creates a user (no home, no automatic subordinate ids) and a temp dir it owns; both go in teardown. */
async function createUser(t: ExecutionContext, subIdStart?: number): Promise<TestUser> {
  const name = `tsbrl${randomBytes(4).toString('hex')}`;
  execFileSync('useradd', ['-M', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  t.teardown(() => {
    execFileSync('userdel', [name]);
    removeSubIdLines(name);
    execFileSync('rm', ['-rf', path.join(os.tmpdir(), `tsbuild-runc-${uid}`)]);
  });
  if (subIdStart !== undefined) {
    appendFileSync('/etc/subuid', `${name}:${subIdStart}:65536\n`);
    appendFileSync('/etc/subgid', `${name}:${subIdStart}:65536\n`);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-rootless-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chown(dir, uid, gid);
  return {
    name,
    uid,
    gid,
    dir,
    tsbuild: (args, wrap = []) =>
      spawnSync('runuser', ['-u', name, '--', 'env', `TSBUILD_ROOT=${path.join(dir, 'state')}`, ...wrap, process.execPath, bin, ...args], {
        cwd: dir,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      }),
  };
}

/** Writes a file the user owns. */
async function give(user: TestUser, rel: string, content: string | Buffer): Promise<string> {
  const file = path.join(user.dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, path.join(user.dir, rel.split('/')[0]!)]);
  return file;
}

/** `owner/group name` of every entry of the image's top layer, from an OCI layout tarball. */
async function topLayerOwners(ociTar: string): Promise<Map<string, string>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-rootless-oci-'));
  try {
    execFileSync('tar', ['-xf', ociTar, '-C', dir]);
    const blob = (d: string) => path.join(dir, 'blobs', 'sha256', d.replace('sha256:', ''));
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as { layers: Array<{ digest: string }> };
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', blob(manifest.layers.at(-1)!.digest)], { encoding: 'utf8' });
    const out = new Map<string, string>();
    for (const line of listing.split('\n').filter(Boolean)) {
      const f = line.split(/\s+/);
      out.set(f.slice(5).join(' ').replace(/^\.\//, ''), f[1]!);
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mapLines = (text: string) => text.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter((l) => /^\d+ \d+ \d+$/.test(l));

test('rootless build with /etc/subuid ranges: RUN is uid 0 over newuidmap maps, other owners survive, files are root-owned in the image', async (t) => {
  t.true(isRoot, 'this test creates users: CI runs it as root');
  const start = 500000 + 65536 * Math.floor(Math.random() * 200);
  const user = await createUser(t, start);
  const base = await give(user, 'busybox.tar', readFileSync(busyboxTar()));
  const imported = user.tsbuild(['image', 'import', base, 'busybox:latest']);
  t.is(imported.status, 0, String(imported.stderr));
  await give(
    user,
    'ctx/Dockerfile',
    [
      'FROM busybox',
      'RUN --network=none echo "netdevs: $(ls /sys/class/net | tr "\\n" " ")"',
      'RUN echo "marker-$((6*7))" && echo "uid=$(id -u)" && cat /proc/self/uid_map && touch /made-by-root && touch /made-by-app && chown 1000:1000 /made-by-app && (mknod /dev-disk b 8 0 2>/dev/null; echo "mknod-rc=$?")',
      '',
    ].join('\n'),
  );
  const out = path.join(user.dir, 'out.tar');
  const r = user.tsbuild(['build', '--progress=plain', '-o', `type=oci,dest=${out}`, path.join(user.dir, 'ctx')]);
  const log = String(r.stderr) + String(r.stdout);
  t.is(r.status, 0, log);
  t.regex(log, /marker-42/);
  t.regex(log, /uid=0\b/);
  // --network=none works rootless too: a fresh network namespace with loopback only.
  t.regex(log, /netdevs: lo \n/);
  // The step sees the namespace's maps: our uid as 0 and the subordinate range from /etc/subuid.
  const maps = mapLines(log.split('\n').map((l) => l.replace(/^#\d+ [\d.]+s /, '')).join('\n'));
  t.deepEqual(maps.slice(0, 2), [`0 ${user.uid} 1`, `1 ${start} 65536`]);
  // No device node can be made from a user namespace (what the device cgroup does as root).
  t.notRegex(log, /mknod-rc=0/);
  t.regex(log, /mknod-rc=\d+/);
  const owners = await topLayerOwners(out);
  t.is(owners.get('made-by-root'), '0/0');
  t.is(owners.get('made-by-app'), '1000/1000');
  t.false(owners.has('dev-disk'));
  // The build's mounts lived in its own mount namespace: none is left on the host.
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(user.dir));
});

test('rootless build without subordinate ids: a single-id map, RUN is uid 0 and its files are root-owned', async (t) => {
  t.true(isRoot, 'this test creates users: CI runs it as root');
  const user = await createUser(t);
  // With only one id mapped, every file of the base must be root's: re-own the busybox rootfs.
  const rootfs = path.join(user.dir, 'rootfs');
  await mkdir(rootfs);
  execFileSync('tar', ['-xf', busyboxTar(), '-C', rootfs]);
  const base = path.join(user.dir, 'busybox0.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-cf', base, '-C', rootfs, '.']);
  execFileSync('chown', [`${user.uid}:${user.gid}`, base]);
  const imported = user.tsbuild(['image', 'import', base, 'busybox:latest']);
  t.is(imported.status, 0, String(imported.stderr));
  await give(user, 'ctx/Dockerfile', 'FROM busybox\nRUN echo "marker-$((6*7))" && echo "uid=$(id -u)" && cat /proc/self/uid_map && mkdir -p /out && echo hi > /out/file\n');
  // A bundle dir root's killed build left (no process has this pid): the user's start-up
  // clean-up cannot remove it, and must not fail for that.
  const foreign = path.join(os.tmpdir(), 'tsbuild-run-4194302-rootless-test');
  await mkdir(path.join(foreign, 'rootfs'), { recursive: true, mode: 0o700 });
  t.teardown(() => rm(foreign, { recursive: true, force: true }));
  const out = path.join(user.dir, 'out.tar');
  const r = user.tsbuild(['build', '--progress=plain', '-o', `type=oci,dest=${out}`, path.join(user.dir, 'ctx')]);
  const log = String(r.stderr) + String(r.stdout);
  t.is(r.status, 0, log);
  t.regex(log, /marker-42/);
  t.regex(log, /uid=0\b/);
  const maps = mapLines(log.split('\n').map((l) => l.replace(/^#\d+ [\d.]+s /, '')).join('\n'));
  t.deepEqual(maps, [`0 ${user.uid} 1`]);
  const owners = await topLayerOwners(out);
  t.is(owners.get('out/file'), '0/0');
  t.is(owners.get('out/'), '0/0');
});

test('rootless cancel: SIGINT during a long RUN ends every process of the user and exits 130', async (t) => {
  t.true(isRoot, 'this test creates users: CI runs it as root');
  const user = await createUser(t, 500000 + 65536 * Math.floor(Math.random() * 200));
  const base = await give(user, 'busybox.tar', readFileSync(busyboxTar()));
  t.is(user.tsbuild(['image', 'import', base, 'busybox:latest']).status, 0);
  await give(user, 'ctx/Dockerfile', 'FROM busybox\nRUN echo "started-$((6*7))" && sleep 300\n');
  // Spawned as the user directly (not through runuser) so the signal reaches tsbuild itself.
  const child = spawn(process.execPath, [bin, 'build', '--progress=plain', path.join(user.dir, 'ctx')], {
    uid: user.uid,
    gid: user.gid,
    cwd: user.dir,
    env: { ...process.env, HOME: user.dir, TSBUILD_ROOT: path.join(user.dir, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const started = new Promise<void>((resolve) => {
    const on = (c: Buffer) => {
      log += c.toString();
      if (log.includes('started-42')) resolve();
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([started, exited]);
  t.true(log.includes('started-42'), log);
  // The step runs under tsbuild-sandbox-exec (rootless too: the host's nodes bound into /dev), not runc.
  const procs = spawnSync('pgrep', ['-u', String(user.uid), '-a'], { encoding: 'utf8' }).stdout;
  t.regex(procs, /tsbuild-sandbox-exec .*--bind-devices/, procs);
  t.notRegex(procs, /^\d+ \S*runc /m, procs);
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  const code = await exited;
  clearTimeout(timer);
  t.is(code, 130, log);
  // Nothing of the build survives: no process runs as the user (the step's sleep included).
  // (a killed step's zombie may wait a moment for the host's init to reap it)
  let left = '';
  for (let i = 0; i < 50; i++) {
    left = spawnSync('pgrep', ['-u', String(user.uid), '-a'], { encoding: 'utf8' }).stdout.trim();
    if (!left) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(left, '');
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(user.dir));
});

test('user namespaces disabled: the CLI fails with ERR_TSBUILD_SANDBOX_UNAVAILABLE', async (t) => {
  t.true(isRoot, 'this test creates users: CI runs it as root');
  const user = await createUser(t);
  await give(user, 'ctx/Dockerfile', 'FROM busybox\nRUN true\n');
  // user.max_user_namespaces is per user namespace: setting it to 0 in a namespace of our own
  // (kept capabilities, uid unchanged) disables nested ones there without touching the host.
  const r = user.tsbuild(['--debug', 'build', path.join(user.dir, 'ctx')], [
    'unshare', '--user', '--map-current-user', '--keep-caps', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh',
  ]);
  t.not(r.status, 0);
  t.regex(String(r.stderr), /code: ERR_TSBUILD_SANDBOX_UNAVAILABLE/);
  t.regex(String(r.stderr), /max_user_namespaces/);
  // Commands that run no step still work there, without a namespace.
  const ls = user.tsbuild(['image', 'ls'], ['unshare', '--user', '--map-current-user', '--keep-caps', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh']);
  t.is(ls.status, 0, String(ls.stderr));
});

test('checkUserNamespaces: each way of disabling user namespaces is reported with its code', async (t) => {
  const probe = (over: Partial<UserNamespaceProbe>): UserNamespaceProbe => ({
    unprivilegedUsernsClone: async () => undefined,
    maxUserNamespaces: async () => '1000',
    tryUnshare: async () => ({ ok: true, stderr: '' }),
    ...over,
  });
  await t.notThrowsAsync(checkUserNamespaces(probe({})));
  for (const p of [
    probe({ unprivilegedUsernsClone: async () => '0' }),
    probe({ maxUserNamespaces: async () => '0' }),
    probe({ tryUnshare: async () => ({ ok: false, stderr: 'unshare failed: Operation not permitted' }) }),
  ]) {
    const err = await t.throwsAsync(checkUserNamespaces(p));
    t.true(err instanceof TsbuildError);
    t.is((err as TsbuildError).code, 'ERR_TSBUILD_SANDBOX_UNAVAILABLE');
  }
  // This host allows them (the build tests above depend on it).
  await t.notThrowsAsync(checkUserNamespaces(hostUserNamespaceProbe));
});

test('subordinate id parsing and map plans', (t) => {
  const text = '# comment\nalice:100000:65536\n1002:300000:1000\nbob:bad:1\n';
  t.deepEqual(parseSubIdFile(text, 'alice', 1001), { start: 100000, count: 65536 });
  t.deepEqual(parseSubIdFile(text, 'carol', 1002), { start: 300000, count: 1000 });
  t.is(parseSubIdFile(text, 'bob', 1003), undefined);
  const sub = planIdMaps({ uid: 1001, gid: 1001 }, { start: 100000, count: 65536 }, { start: 100000, count: 65536 });
  t.is(sub.mode, 'subid');
  t.deepEqual(sub.uid, [{ inner: 0, outer: 1001, count: 1 }, { inner: 1, outer: 100000, count: 65536 }]);
  t.true(unshareArgs(sub).includes('--map-users=100000,1,65536'));
  // A uid range without a gid range cannot give consistent ownership: single map.
  const single = planIdMaps({ uid: 1001, gid: 1001 }, { start: 100000, count: 65536 }, undefined);
  t.is(single.mode, 'single');
  t.false(unshareArgs(single).some((a) => a.startsWith('--map-users')));
});

test('rootless runtime spec: no cgroup or device rules, /sys bound from the host unless the step has its own network', (t) => {
  const input = { rootfs: { kind: 'dir' as const, path: '/r' }, args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] } };
  const files = { hosts: '/b/hosts', resolvConf: '/b/resolv.conf', hostname: '/b/hostname' };
  type Oci = { linux: Record<string, unknown>; mounts: Array<{ destination: string; type: string; options: string[] }> };
  const rooted = toOciRuntimeSpec(createSandboxSpec({ ...input, network: 'default' }), '/r', files, '/tsbuild/x') as unknown as Oci;
  t.is(rooted.linux.cgroupsPath, '/tsbuild/x');
  t.truthy(rooted.linux.resources);
  const rootless = toOciRuntimeSpec(createSandboxSpec({ ...input, network: 'default', rootless: true }), '/r', files, '/tsbuild/x') as unknown as Oci;
  t.is(rootless.linux.cgroupsPath, undefined);
  t.is(rootless.linux.resources, undefined);
  t.is(rootless.mounts.find((m) => m.destination === '/sys')!.options.includes('rbind'), true);
  t.false(rootless.mounts.find((m) => m.destination === '/dev/pts')!.options.includes('gid=5'));
  const isolated = toOciRuntimeSpec(createSandboxSpec({ ...input, network: 'none', rootless: true }), '/r', files, '/tsbuild/x') as unknown as Oci;
  t.is(isolated.mounts.find((m) => m.destination === '/sys')!.type, 'sysfs');
});
