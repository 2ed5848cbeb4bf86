/**
 * The sandbox description as pure data, and its translation into an OCI runtime spec. No I/O
 * here: runner.ts turns a SandboxSpec into processes and mounts. Privileges follow BuildKit's
 * default RUN (Docker's default capability set, no CAP_SYS_ADMIN, no_new_privs off, a seccomp
 * filter from seccomp.ts, a device cgroup that allows only the minimal /dev), networking
 * follows its OCI worker without CNI: the host's network by default, a fresh empty network
 * namespace for `none`.
 */
import { seccompProfile } from './seccomp.js';

export interface SandboxUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export type SandboxMount =
  | { kind: 'bind'; source: string; target: string; readonly: boolean }
  | { kind: 'tmpfs'; target: string; size: number };

export interface SandboxSpec {
  /** Overlay layers (mounted by the runner) or a prepared directory. */
  rootfs: { kind: 'overlay'; lower: string[]; upper: string; work: string } | { kind: 'dir'; path: string; readonly?: boolean };
  args: string[];
  env: string[];
  cwd: string;
  user: SandboxUser;
  hostname: string;
  network: 'default' | 'none' | 'host';
  mounts: SandboxMount[];
  capabilities: string[];
  noNewPrivileges: boolean;
  /** Contents of the generated /etc/hosts and /etc/resolv.conf. */
  hosts: string;
  resolvConf: string;
  /**
   * Run under runc's rootless mode (tsbuild is uid 0 of a user namespace, see rootless.ts): no
   * cgroups and no device rules; the user namespace makes mknod fail and mounts nodev instead.
   */
  rootless: boolean;
  /**
   * RUN --security=insecure under the security.insecure entitlement (BuildKit's insecure mode):
   * every capability, no seccomp filter, every device allowed, /proc and /sys unmasked and
   * writable. The namespaces stay: it is privileged, not the host.
   */
  privileged: boolean;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default capability set. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability of current kernels, by bit number (linux/capability.h). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capabilities of a bounding-set mask (CapBnd in /proc/self/status): a privileged step gets
 * what tsbuild itself may hold (as Docker's privileged mode), runc refuses anything more.
 */
export function capabilitiesInMask(mask: bigint): string[] {
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

export interface SandboxInput {
  rootfs: SandboxSpec['rootfs'];
  args: string[];
  env: string[];
  cwd: string;
  user: SandboxUser;
  network: SandboxSpec['network'];
  mounts?: SandboxMount[];
  hostname?: string;
  /** The host's /etc/resolv.conf text (used for default/host networking). */
  hostResolvConf?: string;
  /** Rootless mode (default false; runSandbox sets it when it runs in a user namespace). */
  rootless?: boolean;
  /** Insecure mode (see SandboxSpec.privileged); default false. */
  privileged?: boolean;
}

export function createSandboxSpec(input: SandboxInput): SandboxSpec {
  const env = input.env.some((e) => e.startsWith('PATH=')) ? input.env : [`PATH=${DEFAULT_PATH}`, ...input.env];
  const hostname = input.hostname ?? 'buildkitsandbox';
  return {
    rootfs: input.rootfs,
    args: input.args,
    env,
    cwd: input.cwd || '/',
    user: input.user,
    hostname,
    network: input.network,
    mounts: input.mounts ?? [],
    capabilities: input.privileged ? ALL_CAPABILITIES : DEFAULT_CAPABILITIES,
    // BuildKit (and docker run) leave no_new_privs off, so setuid programs (su, ping) work in RUN
    // as they do there; Docker 26 lab: NoNewPrivs 0.
    noNewPrivileges: false,
    hosts: `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    // BuildKit gives a `none` step the host's resolv.conf too (lab: the nameserver line is there),
    // minus loopback resolvers, which a fresh network namespace could never reach.
    resolvConf: input.network === 'none' ? withoutLoopbackNameservers(input.hostResolvConf ?? '') : (input.hostResolvConf ?? ''),
    rootless: input.rootless ?? false,
    privileged: input.privileged ?? false,
  };
}

/** resolv.conf text without `nameserver` lines that point at the loopback network. */
export function withoutLoopbackNameservers(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.\S*|::1)\s*$/.test(l))
    .join('\n');
}

/** Devices a RUN may open: the minimal /dev. Everything else is denied by the device cgroup. */
const ALLOWED_DEVICES = [
  { type: 'c', major: 1, minor: 3 }, // null
  { type: 'c', major: 1, minor: 5 }, // zero
  { type: 'c', major: 1, minor: 7 }, // full
  { type: 'c', major: 1, minor: 8 }, // random
  { type: 'c', major: 1, minor: 9 }, // urandom
  { type: 'c', major: 5, minor: 0 }, // tty
  { type: 'c', major: 5, minor: 2 }, // ptmx
  { type: 'c', major: 136, minor: -1 }, // pts
];

/** The OCI runtime spec (config.json) for runc. `rootPath` is the mounted root filesystem. */
export function toOciRuntimeSpec(
  spec: SandboxSpec,
  rootPath: string,
  files: { hosts: string; resolvConf: string; hostname: string },
  cgroupsPath: string,
  /** Overlay mount options: runc mounts the root over `rootPath` in the container's namespace. */
  rootOverlay?: string,
): Record<string, unknown> {
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (spec.network === 'none') namespaces.push({ type: 'network' });
  const mounts: Array<Record<string, unknown>> = [
    ...(rootOverlay ? [{ destination: '/', type: 'overlay', source: 'overlay', options: rootOverlay.split(',') }] : []),
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    // gid 5 (tty) is not mapped in a single-id user namespace.
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(spec.rootless ? [] : ['gid=5'])] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs can be mounted from a user namespace only with a network namespace of its own.
    spec.rootless && spec.network !== 'none'
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', spec.privileged ? 'rw' : 'ro'] },
    { destination: '/etc/hosts', type: 'bind', source: files.hosts, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/etc/hostname', type: 'bind', source: files.hostname, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
  ];
  for (const m of spec.mounts) {
    if (m.kind === 'bind') mounts.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] });
    else mounts.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', ...(m.size > 0 ? [`size=${m.size}`] : [])] });
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.user.uid, gid: spec.user.gid, additionalGids: spec.user.additionalGids },
      args: spec.args,
      env: spec.env,
      cwd: spec.cwd,
      capabilities: { bounding: spec.capabilities, effective: spec.capabilities, permitted: spec.capabilities, inheritable: [], ambient: [] },
      noNewPrivileges: spec.noNewPrivileges,
    },
    root: { path: rootPath, readonly: spec.rootfs.kind === 'dir' && spec.rootfs.readonly === true },
    hostname: spec.hostname,
    mounts,
    linux: {
      namespaces,
      // Rootless: no cgroup at all (runc skips it when the spec asks for nothing).
      ...(spec.rootless
        ? {}
        : {
            cgroupsPath,
            resources: {
              devices: spec.privileged
                ? [{ allow: true, access: 'rwm' }]
                : [{ allow: false, access: 'rwm' }, ...ALLOWED_DEVICES.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: 'rwm' }))],
            },
          }),
      ...(spec.privileged
        ? {}
        : {
            seccomp: seccompProfile(process.arch),
            maskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
            readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
          }),
    },
  };
}
