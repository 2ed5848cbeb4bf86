/**
 * Rootless mode, shaped like BuildKit's rootlesskit setup: a non-root tsbuild re-executes itself
 * inside a new user + mount namespace where it is uid 0. The uid/gid maps come from newuidmap /
 * newgidmap (package uidmap) over the user's /etc/subuid and /etc/subgid ranges when present, so
 * images owning files as other users unpack faithfully; without ranges only the user itself is
 * mapped (to 0) and any other owner in a layer cannot be represented (lchown fails: EINVAL).
 *
 * Inside, steps run as in runc's rootless mode (tsbuild-sandbox-exec does the same, see
 * runner.ts): no cgroups (an unprivileged user cannot create them, and cgroup v2 device rules
 * need eBPF with CAP_SYS_ADMIN in the initial namespace). The device cgroup's job is done by the
 * user namespace itself: a process in it cannot mknod a device (EPERM, CAP_MKNOD is only
 * namespaced), and filesystems mounted from it are implicitly nodev, so a RUN still reaches only
 * the /dev nodes bind-mounted from the host. Snapshots use the
 * copy-based snapshotter: overlayfs does mount in a user namespace (kernel >= 5.11), but only
 * without redirect_dir/index/metacopy options (refused: they need trusted.* xattrs, which only
 * the initial namespace may use) and with opaque dirs marked as user.overlay.opaque (`userxattr`),
 * while the layer store marks them trusted.overlay.opaque. TSBUILD_SNAPSHOTTER=overlay overrides.
 *
 * The helpers below are pure (plans and parsers) or take their probes as arguments, so tests can
 * drive the decisions; startRootlessChild is the one that spawns, and only cli/ calls it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TsbuildError } from '../errors/index.js';

const run = promisify(execFile);

/** Set in the re-executed child's environment so it does not re-execute again. */
export const ROOTLESS_ENV = 'TSBUILD_ROOTLESS_CHILD';

/** A subordinate id range from /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  start: number;
  count: number;
}

/** One line of a uid_map/gid_map: `count` ids from `outer` (host) appear as `inner`. */
export interface IdMapEntry {
  inner: number;
  outer: number;
  count: number;
}

/** The namespace's id maps and how they were made. */
export interface IdMapPlan {
  /** `subid`: newuidmap/newgidmap with the user's ranges; `single`: only the user, as root. */
  mode: 'subid' | 'single';
  uid: IdMapEntry[];
  gid: IdMapEntry[];
}

/**
 * Finds the first range of `name` (or of its numeric id, which shadow's tools also accept)
 * in /etc/subuid-format text.
 */
export function parseSubIdFile(text: string, name: string, id: number): SubIdRange | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [owner, start, count] = line.split(':');
    if (owner !== name && owner !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && s >= 0 && c > 0) return { start: s, count: c };
  }
  return undefined;
}

/**
 * The maps for a user: its own id becomes 0 and, when it has a subordinate range, the range
 * becomes 1..count (the same layout rootlesskit and rootless podman use).
 */
export function planIdMaps(user: { uid: number; gid: number }, subuid?: SubIdRange, subgid?: SubIdRange): IdMapPlan {
  const both = subuid !== undefined && subgid !== undefined;
  const map = (own: number, range?: SubIdRange): IdMapEntry[] => [
    { inner: 0, outer: own, count: 1 },
    ...(both && range ? [{ inner: 1, outer: range.start, count: range.count }] : []),
  ];
  return { mode: both ? 'subid' : 'single', uid: map(user.uid, subuid), gid: map(user.gid, subgid) };
}

/**
 * util-linux `unshare` arguments for a plan. With ranges, unshare (>= 2.38) runs newuidmap and
 * newgidmap itself for the combined maps; the single map is written directly (setgroups denied,
 * as the kernel requires for an unprivileged writer).
 */
export function unshareArgs(plan: IdMapPlan): string[] {
  const args = ['--user', '--mount', '--propagation', 'private', '--map-root-user'];
  if (plan.mode === 'subid') {
    for (const e of plan.uid.filter((x) => x.inner !== 0)) args.push(`--map-users=${e.outer},${e.inner},${e.count}`);
    for (const e of plan.gid.filter((x) => x.inner !== 0)) args.push(`--map-groups=${e.outer},${e.inner},${e.count}`);
  }
  return args;
}

/** Parses /proc/self/uid_map text. */
export function parseIdMap(text: string): IdMapEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every((n) => Number.isInteger(n)))
    .map(([inner, outer, count]) => ({ inner: inner!, outer: outer!, count: count! }));
}

/** Whether a uid_map is anything but the initial namespace's identity map. */
export function isUserNamespaced(map: IdMapEntry[]): boolean {
  return !(map.length === 1 && map[0]!.inner === 0 && map[0]!.outer === 0 && map[0]!.count === 4294967295);
}

/** Whether this process runs in a (non-initial) user namespace: runc must then run rootless. */
export async function runningInUserNamespace(): Promise<boolean> {
  const text = await readFile('/proc/self/uid_map', 'utf8').catch(() => undefined);
  return text !== undefined && isUserNamespaced(parseIdMap(text));
}

/**
 * runc's state directory in rootless mode: /run/runc belongs to the real root. Keyed by the host
 * uid behind our uid 0 so two users sharing /tmp never see each other's containers.
 */
export async function rootlessRuncRoot(): Promise<string> {
  const map = parseIdMap(await readFile('/proc/self/uid_map', 'utf8').catch(() => ''));
  const outer = map.find((e) => e.inner === 0)?.outer ?? 'userns';
  return path.join(os.tmpdir(), `tsbuild-runc-${outer}`);
}

/** What the host says about unprivileged user namespaces; injectable for tests. */
export interface UserNamespaceProbe {
  /** Debian/Ubuntu knob: /proc/sys/kernel/unprivileged_userns_clone (undefined when absent). */
  unprivilegedUsernsClone(): Promise<string | undefined>;
  /** /proc/sys/user/max_user_namespaces (undefined when absent). */
  maxUserNamespaces(): Promise<string | undefined>;
  /** Tries `unshare --user --map-root-user true`; stderr on failure. */
  tryUnshare(): Promise<{ ok: boolean; stderr: string }>;
}

const readSysctl = (p: string) => () => readFile(p, 'utf8').then((s) => s.trim(), () => undefined);

export const hostUserNamespaceProbe: UserNamespaceProbe = {
  unprivilegedUsernsClone: readSysctl('/proc/sys/kernel/unprivileged_userns_clone'),
  maxUserNamespaces: readSysctl('/proc/sys/user/max_user_namespaces'),
  tryUnshare: () =>
    run('unshare', ['--user', '--map-root-user', 'true']).then(
      () => ({ ok: true, stderr: '' }),
      (err: { stderr?: string; message: string }) => ({ ok: false, stderr: (err.stderr ?? err.message).trim() }),
    ),
};

/** Throws ERR_TSBUILD_SANDBOX_UNAVAILABLE, with the knob to turn, when user namespaces are off. */
export async function checkUserNamespaces(probe: UserNamespaceProbe = hostUserNamespaceProbe): Promise<void> {
  const fail = (why: string, hint: string, cause?: unknown) => {
    throw new TsbuildError('ERR_TSBUILD_SANDBOX_UNAVAILABLE', `rootless builds need unprivileged user namespaces: ${why}`, { hint, ...(cause ? { cause } : {}) });
  };
  if ((await probe.unprivilegedUsernsClone()) === '0') {
    fail('kernel.unprivileged_userns_clone is 0', 'enable them with `sysctl -w kernel.unprivileged_userns_clone=1`, or run tsbuild as root');
  }
  if ((await probe.maxUserNamespaces()) === '0') {
    fail('user.max_user_namespaces is 0', 'enable them with `sysctl -w user.max_user_namespaces=15000`, or run tsbuild as root');
  }
  const r = await probe.tryUnshare();
  if (!r.ok) {
    fail(`\`unshare --user\` failed (${r.stderr || 'no output'})`, 'check kernel.apparmor_restrict_unprivileged_userns, seccomp or container policy that blocks user namespaces, or run tsbuild as root');
  }
}

/** Reads the subordinate ranges of a user from /etc/subuid and /etc/subgid (either may be absent). */
export async function readSubIds(user: { name: string; uid: number; gid: number }, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): Promise<{ subuid?: SubIdRange; subgid?: SubIdRange }> {
  const [u, g] = await Promise.all([files.subuid, files.subgid].map((f) => readFile(f, 'utf8').catch(() => '')));
  const subuid = parseSubIdFile(u!, user.name, user.uid);
  const subgid = parseSubIdFile(g!, user.name, user.uid);
  return { ...(subuid ? { subuid } : {}), ...(subgid ? { subgid } : {}) };
}

/** Whether `newuidmap` and `newgidmap` (package uidmap) are installed. */
async function haveNewIdMap(): Promise<boolean> {
  const found = await Promise.all(['newuidmap', 'newgidmap'].map((b) => run('sh', ['-c', `command -v ${b}`]).then(() => true, () => false)));
  return found.every(Boolean);
}

export interface RootlessChildOptions {
  /** Program and arguments to run inside, e.g. [process.execPath, script, ...argv]. */
  command: string[];
  env: NodeJS.ProcessEnv;
  /** Overrides for tests; default: the host's probe and /etc/subuid, /etc/subgid. */
  probe?: UserNamespaceProbe;
}

/** A started rootless child: the caller forwards signals and waits for the exit status. */
export interface RootlessChild {
  plan: IdMapPlan;
  kill(signal: NodeJS.Signals): void;
  /** Exit status as a shell reports it (128+n for a signal). */
  wait(): Promise<number>;
}

/**
 * Checks user namespaces, plans the maps and starts `command` inside a new user + mount namespace
 * as uid 0, with stdio shared. The child gets its own process group so a terminal's ^C reaches
 * only us and is forwarded once (a second SIGINT makes tsbuild exit without cleanup).
 */
export async function startRootlessChild(options: RootlessChildOptions): Promise<RootlessChild> {
  await checkUserNamespaces(options.probe);
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const name = os.userInfo().username;
  const ids = (await haveNewIdMap()) ? await readSubIds({ name, uid, gid }) : {};
  const plan = planIdMaps({ uid, gid }, ids.subuid, ids.subgid);
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    [ROOTLESS_ENV]: '1',
    // Layer dirs written as root of the namespace cannot be overlaid from it (see file doc).
    TSBUILD_SNAPSHOTTER: options.env.TSBUILD_SNAPSHOTTER ?? 'copy',
  };
  const [cmd, ...args] = options.command;
  if (!cmd) throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', 'no command to run in the user namespace');
  const child: ChildProcess = spawn('unshare', [...unshareArgs(plan), '--', cmd, ...args], { stdio: 'inherit', env, detached: true });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (err) => reject(new TsbuildError('ERR_TSBUILD_SANDBOX_UNAVAILABLE', `cannot start unshare: ${err.message}`, { cause: err, hint: 'install util-linux (unshare) and uidmap (newuidmap)' })));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
  });
  return {
    plan,
    kill: (signal) => {
      child.kill(signal);
    },
    wait: () => exited,
  };
}
