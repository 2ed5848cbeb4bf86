/**
 * The OCI runtime spec tsbuild writes (spec.ts), as the arguments of tsbuild-sandbox-exec
 * (native/sandbox-exec.c). Both runtimes are driven from the same config, so a RUN gets the same
 * mounts, capabilities, seccomp rules, masked paths and device rules from either. Anything in a
 * config this translation does not know returns undefined, and the runner hands that config to
 * runc: a new field in spec.ts can never be dropped silently on the fast path. Pure data.
 */
import path from 'node:path';
import { ALL_CAPABILITIES } from './spec.js';

export interface SandboxExecPlan {
  args: string[];
  /**
   * cgroup v1 device rules: `deny` lines for devices.deny, then `allow` lines for devices.allow.
   * None for a rootless config: its user namespace keeps device nodes from being made or opened.
   */
  devices?: { deny: string[]; allow: string[] };
}

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
}

interface OciConfig {
  process?: {
    terminal?: boolean;
    user?: { uid: number; gid: number; additionalGids?: number[] };
    args?: string[];
    env?: string[];
    cwd?: string;
    capabilities?: Record<string, string[] | undefined>;
    noNewPrivileges?: boolean;
    [k: string]: unknown;
  };
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  linux?: {
    namespaces?: Array<{ type: string; path?: string }>;
    cgroupsPath?: string;
    resources?: { devices?: OciDeviceRule[]; [k: string]: unknown };
    seccomp?: { defaultAction: string; architectures?: string[]; syscalls?: OciSeccompRule[]; [k: string]: unknown };
    maskedPaths?: string[];
    readonlyPaths?: string[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

const KNOWN = {
  top: new Set(['ociVersion', 'process', 'root', 'hostname', 'mounts', 'linux']),
  process: new Set(['terminal', 'user', 'args', 'env', 'cwd', 'capabilities', 'noNewPrivileges']),
  linux: new Set(['namespaces', 'cgroupsPath', 'resources', 'seccomp', 'maskedPaths', 'readonlyPaths']),
  namespaces: new Set(['pid', 'ipc', 'uts', 'mount', 'network']),
  mountTypes: new Set(['proc', 'tmpfs', 'devpts', 'mqueue', 'sysfs']),
  flags: new Set(['ro', 'nosuid', 'nodev', 'noexec', 'strictatime']),
};

const onlyKnown = (o: object, known: Set<string>): boolean => Object.keys(o).every((k) => known.has(k));

/**
 * The plan for `config`, or undefined when it asks for something only runc provides. A rootless
 * config (runc's rootless mode: tsbuild is root of a user namespace) has no cgroup section, and
 * its /dev gets the host's nodes bound in, as runc does there.
 */
export function planSandboxExec(config: OciConfig, options: { rootless?: boolean } = {}): SandboxExecPlan | undefined {
  const { process: proc, root, linux } = config;
  if (!proc || !root || !linux || !onlyKnown(config, KNOWN.top) || !onlyKnown(proc, KNOWN.process) || !onlyKnown(linux, KNOWN.linux)) return undefined;
  if (proc.terminal || !proc.args?.length || !proc.user) return undefined;
  const args: string[] = ['--rootfs', root.path];

  const namespaces = linux.namespaces ?? [];
  if (namespaces.some((n) => n.path !== undefined || !KNOWN.namespaces.has(n.type))) return undefined;
  // The helper always makes pid, ipc, uts and mount namespaces; only the network one is optional.
  if (!['pid', 'ipc', 'uts', 'mount'].every((t) => namespaces.some((n) => n.type === t))) return undefined;
  if (namespaces.some((n) => n.type === 'network')) args.push('--net');
  if (config.hostname !== undefined) args.push('--hostname', config.hostname);

  const mounts = [...(config.mounts ?? [])];
  if (mounts[0]?.destination === '/' && mounts[0].type === 'overlay') args.push('--overlay', (mounts.shift()!.options ?? []).join(','));
  else args.push('--bind-root', root.path);
  if (root.readonly) args.push('--readonly-root');
  for (const m of mounts) {
    const options = m.options ?? [];
    const flags = options.filter((o) => KNOWN.flags.has(o));
    const rest = options.filter((o) => !KNOWN.flags.has(o) && o !== 'rw');
    let kind: string;
    if (m.type === 'bind' || (m.type === 'none' && rest.includes('rbind'))) {
      // The helper binds recursively; a plain `bind` or any other option is runc's to handle.
      if (rest.length !== 1 || rest[0] !== 'rbind') return undefined;
      kind = 'bind';
      rest.length = 0;
    } else if (KNOWN.mountTypes.has(m.type)) kind = m.type;
    else return undefined;
    // runc cleans a destination like a path (`/a//b/` is `/a/b`); the helper takes it component by component.
    const destination = path.posix.normalize(`/${m.destination}`).replace(/(.)\/+$/, '$1');
    args.push('--mount', kind, m.source, destination, flags.length ? flags.join(',') : '-', rest.length ? rest.join(',') : '-');
  }
  // runc's default /dev nodes and symlinks, made in the /dev tmpfs (bound from the host, rootless).
  if (mounts.some((m) => m.destination === '/dev')) args.push(options.rootless ? '--bind-devices' : '--devices');
  for (const p of linux.maskedPaths ?? []) args.push('--mask', p);
  for (const p of linux.readonlyPaths ?? []) args.push('--readonly', p);

  let devices: SandboxExecPlan['devices'];
  if (options.rootless) {
    if (linux.resources !== undefined || linux.cgroupsPath !== undefined) return undefined;
  } else if (!(devices = deviceRules(linux.resources))) return undefined;

  const caps = proc.capabilities ?? {};
  const bounding = caps.bounding ?? [];
  const same = (a: string[] | undefined) => (a ?? []).length === bounding.length && (a ?? []).every((c) => bounding.includes(c));
  if (!same(caps.effective) || !same(caps.permitted) || (caps.inheritable ?? []).length || (caps.ambient ?? []).length) return undefined;
  let mask = 0n;
  for (const c of bounding) {
    const bit = ALL_CAPABILITIES.indexOf(c);
    if (bit < 0) return undefined;
    mask |= 1n << BigInt(bit);
  }
  args.push('--caps', mask.toString(16));
  if (proc.noNewPrivileges) args.push('--no-new-privs');

  if (linux.seccomp) {
    const seccomp = seccompArgs(linux.seccomp);
    if (!seccomp) return undefined;
    args.push(...seccomp);
  }

  const { uid, gid, additionalGids = [] } = proc.user;
  args.push('--uid', String(uid), '--gid', String(gid), '--groups', additionalGids.length ? additionalGids.join(',') : '-');
  args.push('--cwd', proc.cwd ?? '/');
  for (const e of proc.env ?? []) args.push('--env', e);
  args.push('--', ...proc.args);
  return { args, ...(devices ? { devices } : {}) };
}

/** The device rules as cgroup v1 lines; undefined for anything but whole-device type rules. */
function deviceRules(resources: NonNullable<OciConfig['linux']>['resources']): SandboxExecPlan['devices'] | undefined {
  if (!resources) return undefined;
  if (Object.keys(resources).some((k) => k !== 'devices')) return undefined;
  const deny: string[] = [];
  const allow: string[] = [];
  for (const rule of resources.devices ?? []) {
    const type = rule.type ?? 'a';
    if (!['a', 'b', 'c'].includes(type)) return undefined;
    const num = (n: number | undefined) => (n === undefined || n === -1 ? '*' : String(n));
    const line = `${type} ${num(rule.major)}:${num(rule.minor)} ${rule.access ?? 'rwm'}`;
    // cgroup v1 applies rules in order only as far as "deny all, then allow some" goes.
    if (rule.allow) allow.push(line);
    else if (allow.length === 0) deny.push(line);
    else return undefined;
  }
  // runc appends its own defaults to every rootful config's rules: mknod of any node (opening one
  // is what the rules guard) and /dev/net/tun; so does this, for the same device list.
  if (deny.length > 0) for (const line of RUNC_DEFAULT_ALLOWS) if (!allow.includes(line)) allow.push(line);
  return { deny, allow };
}

const RUNC_DEFAULT_ALLOWS = ['c *:* m', 'b *:* m', 'c 10:200 rwm'];

function seccompArgs(seccomp: NonNullable<NonNullable<OciConfig['linux']>['seccomp']>): string[] | undefined {
  if (seccomp.defaultAction !== 'SCMP_ACT_ALLOW' || Object.keys(seccomp).some((k) => !['defaultAction', 'architectures', 'syscalls'].includes(k))) return undefined;
  const out: string[] = [];
  for (const a of seccomp.architectures ?? []) out.push('--seccomp-arch', a);
  for (const rule of seccomp.syscalls ?? []) {
    if (rule.action !== 'SCMP_ACT_ERRNO' || rule.errnoRet === undefined) return undefined;
    if (!rule.args?.length) {
      out.push('--seccomp-errno', String(rule.errnoRet), rule.names.join(','));
      continue;
    }
    // The one argument rule tsbuild writes: clone() with a flag mask.
    const [arg] = rule.args;
    if (rule.args.length !== 1 || rule.names.length !== 1 || rule.names[0] !== 'clone' || arg!.index !== 0 || arg!.op !== 'SCMP_CMP_MASKED_EQ' || arg!.valueTwo !== arg!.value) return undefined;
    if (out.includes('--seccomp-clone-flags')) return undefined;
    out.push('--seccomp-clone-flags', String(rule.errnoRet), arg!.value.toString(16));
  }
  return out;
}
