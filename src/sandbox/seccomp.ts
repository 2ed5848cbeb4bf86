/**
 * The seccomp filter of a RUN step. BuildKit runs RUN under Docker's default profile, so a step
 * sees `Seccomp: 2` in /proc/self/status and cannot reach the kernel interfaces that profile
 * keeps from an unprivileged container. This is our own, smaller filter with the same intent:
 * everything is allowed except the calls below, which fail with EPERM. Most of them already fail
 * for want of a capability (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_TIME...); the filter is what
 * stops the ones no capability guards: new user namespaces, keyrings, bpf, userfaultfd,
 * perf_event_open. Pure data, like spec.ts.
 */

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

/** Calls a RUN step never gets (EPERM). Names unknown to the host's libseccomp are skipped by runc. */
export const DENIED_SYSCALLS = [
  // kernel modules, kexec, reboot, swap, accounting
  'init_module', 'finit_module', 'delete_module', 'create_module', 'get_kernel_syms', 'query_module',
  'kexec_load', 'kexec_file_load', 'reboot', 'swapon', 'swapoff', 'acct',
  // namespaces and mounts (a step keeps the ones runc made for it)
  'unshare', 'setns', 'mount', 'umount', 'umount2', 'pivot_root', 'open_tree', 'move_mount',
  'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr',
  // keyrings, bpf, tracing and fault handling interfaces
  'add_key', 'request_key', 'keyctl', 'bpf', 'perf_event_open', 'userfaultfd', 'lookup_dcookie',
  'fanotify_init', 'open_by_handle_at',
  // clocks, quotas, raw I/O ports, legacy interfaces
  'settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64',
  'quotactl', 'quotactl_fd', 'iopl', 'ioperm', 'vm86', 'vm86old', 'nfsservctl', 'uselib', 'ustat',
  'sysfs', '_sysctl', 'syslog',
];

/** libseccomp names of the ABIs a process on this host may use (32-bit ones included, as Docker). */
function architectures(arch: string): string[] {
  if (arch === 'x64') return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
  if (arch === 'arm64') return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return [];
}

/** The `linux.seccomp` section of the OCI runtime spec; `arch` is Node's process.arch. */
export function seccompProfile(arch: string): Record<string, unknown> {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: architectures(arch),
    syscalls: [
      { names: DENIED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      // clone() may start threads and processes, not user namespaces (the other namespace flags
      // need CAP_SYS_ADMIN, which a step lacks).
      { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }] },
      // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}
