/*
 * tsbuild-sandbox-exec: starts one RUN step in fresh namespaces, the way runc does for the
 * specs tsbuild writes, in ~3-5 ms instead of runc's ~25-40 ms (a Go binary that re-executes
 * itself, copies itself into a memfd and sets up cgroups in every hierarchy). It covers the RUN
 * configs of src/sandbox/spec.ts (--security=insecure and rootless ones included); runner.ts keeps
 * runc for a config src/sandbox/exec-args.ts cannot express.
 *
 * The order of the setup is runc's: mounts in the new mount namespace (targets resolved inside the
 * root with openat2(RESOLVE_IN_ROOT), so a symlink in the image cannot point a mount outside it),
 * device nodes, pivot_root with the old root detached, read-only and masked /proc and /sys paths,
 * the hostname, the seccomp filter (loaded while CAP_SYS_ADMIN is still held, so no_new_privs can
 * stay off as under BuildKit), the bounding set, the user and groups, the capability sets, the
 * working dir, then exec. The command is pid 1 of its pid namespace; it and the helper get
 * SIGKILL when their parent dies, so a killed tsbuild leaves no process behind.
 *
 * Arguments (all built by src/sandbox/exec-args.ts; nothing here is meant to be typed by hand):
 *   --rootfs DIR                the empty dir the root is mounted on
 *   --overlay OPTIONS           mount an overlay with these options as the root
 *   --bind-root DIR             or bind DIR as the root
 *   --readonly-root             remount the root read-only at the end
 *   --net                       a new network namespace (only loopback, brought up)
 *   --hostname NAME
 *   --mount KIND SOURCE TARGET FLAGS DATA   KIND: bind|proc|tmpfs|devpts|mqueue|sysfs;
 *                               FLAGS: comma list of ro,nosuid,nodev,noexec,strictatime or "-";
 *                               DATA: filesystem options or "-"
 *   --devices                   create the minimal /dev (nodes and symlinks) after the mounts
 *   --bind-devices              the same /dev with the host's nodes bound in, not made: a user
 *                               namespace cannot mknod (rootless, as runc's rootless mode)
 *   --mask PATH / --readonly PATH   after pivot_root, as runc's maskedPaths/readonlyPaths
 *   --devices-cgroup DIR        join this cgroup v1 devices cgroup (its rules made by the caller)
 *   --devices-cgroup2 DIR       join this cgroup v2 cgroup, first attaching to it (when it has
 *                               none) an eBPF device filter allowing only the --device-rule lines
 *   --device-rule LINE          (repeatable) "TYPE MAJOR:MINOR ACCESS" as in devices.allow
 *   --uid N --gid N --groups G1,G2,...   (--groups - for none)
 *   --caps HEX                  bounding, permitted and effective set
 *   --no-new-privs
 *   --seccomp-arch NAME         (repeatable) libseccomp architecture names
 *   --seccomp-errno ERRNO NAMES deny the comma-separated calls with ERRNO
 *   --seccomp-clone-flags ERRNO MASK   deny clone() when (flags & MASK) == MASK
 *   --cwd DIR --env K=V (repeatable)  -- ARGS...
 * Exit status: the command's, 128+N when it died of signal N; 1 when the step could not be
 * started, with the reason on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <linux/openat2.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 256

struct mount_item {
  const char *kind, *source, *target, *flags, *data;
};
struct errno_rule {
  int err;
  char *names;
};

static struct {
  const char *rootfs, *overlay, *bind_root, *hostname, *devices_cgroup, *devices_cgroup2, *cwd;
  const char *device_rules[MAX_ITEMS];
  int n_device_rules;
  int readonly_root, net, devices, bind_devices, no_new_privs;
  struct mount_item mounts[MAX_ITEMS];
  int n_mounts;
  const char *masks[MAX_ITEMS], *readonly[MAX_ITEMS];
  int n_masks, n_readonly;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_ITEMS];
  int n_groups;
  uint64_t caps;
  const char *arches[8];
  int n_arches;
  struct errno_rule rules[16];
  int n_rules;
  int clone_errno;
  uint64_t clone_mask;
  char **env; /* argc + 2 slots: every --env, HOME, the NULL */
  int n_env;
  char **args;
} cfg;

/* Setup errors reach the helper through this pipe (close-on-exec: an exec that works closes it);
   before the fork (report_fd -1) die() prints them itself. */
static int report_fd = -1;

static void die(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  if (report_fd >= 0) {
    ssize_t w = write(report_fd, msg, n);
    (void)w;
  } else
    fprintf(stderr, "tsbuild-sandbox-exec: %s\n", msg);
  _exit(1);
}

static void usage(const char *why) {
  fprintf(stderr, "tsbuild-sandbox-exec: %s (this helper is run by tsbuild, see src/sandbox/exec-args.ts)\n", why);
  exit(1);
}

static unsigned long parse_ulong(const char *s, int base) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || *s == '\0' || *end != '\0') usage("bad number");
  return (unsigned long)v;
}

static void parse_args(int argc, char **argv) {
  int i = 1;
  cfg.env = calloc((size_t)argc + 2, sizeof(char *));
  if (!cfg.env) usage("out of memory");
#define NEED(n) \
  if (i + (n) >= argc) usage("missing value");
#define ADD(arr, count, v) \
  do { \
    if ((count) >= (int)(sizeof(arr) / sizeof((arr)[0]))) usage("too many items"); \
    (arr)[(count)++] = (v); \
  } while (0)
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      cfg.args = &argv[i + 1];
      break;
    } else if (strcmp(a, "--rootfs") == 0) { NEED(1); cfg.rootfs = argv[++i]; }
    else if (strcmp(a, "--overlay") == 0) { NEED(1); cfg.overlay = argv[++i]; }
    else if (strcmp(a, "--bind-root") == 0) { NEED(1); cfg.bind_root = argv[++i]; }
    else if (strcmp(a, "--readonly-root") == 0) cfg.readonly_root = 1;
    else if (strcmp(a, "--net") == 0) cfg.net = 1;
    else if (strcmp(a, "--hostname") == 0) { NEED(1); cfg.hostname = argv[++i]; }
    else if (strcmp(a, "--mount") == 0) {
      NEED(5);
      struct mount_item m = {argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4], argv[i + 5]};
      ADD(cfg.mounts, cfg.n_mounts, m);
      i += 5;
    } else if (strcmp(a, "--devices") == 0) cfg.devices = 1;
    else if (strcmp(a, "--bind-devices") == 0) cfg.bind_devices = 1;
    else if (strcmp(a, "--mask") == 0) { NEED(1); ADD(cfg.masks, cfg.n_masks, argv[++i]); }
    else if (strcmp(a, "--readonly") == 0) { NEED(1); ADD(cfg.readonly, cfg.n_readonly, argv[++i]); }
    else if (strcmp(a, "--devices-cgroup") == 0) { NEED(1); cfg.devices_cgroup = argv[++i]; }
    else if (strcmp(a, "--devices-cgroup2") == 0) { NEED(1); cfg.devices_cgroup2 = argv[++i]; }
    else if (strcmp(a, "--device-rule") == 0) { NEED(1); ADD(cfg.device_rules, cfg.n_device_rules, argv[++i]); }
    else if (strcmp(a, "--uid") == 0) { NEED(1); cfg.uid = (uid_t)parse_ulong(argv[++i], 10); }
    else if (strcmp(a, "--gid") == 0) { NEED(1); cfg.gid = (gid_t)parse_ulong(argv[++i], 10); }
    else if (strcmp(a, "--groups") == 0) {
      NEED(1);
      char *list = argv[++i];
      if (strcmp(list, "-") != 0)
        for (char *save = NULL, *g = strtok_r(list, ",", &save); g; g = strtok_r(NULL, ",", &save)) ADD(cfg.groups, cfg.n_groups, (gid_t)parse_ulong(g, 10));
    } else if (strcmp(a, "--caps") == 0) { NEED(1); cfg.caps = parse_ulong(argv[++i], 16); }
    else if (strcmp(a, "--no-new-privs") == 0) cfg.no_new_privs = 1;
    else if (strcmp(a, "--seccomp-arch") == 0) { NEED(1); ADD(cfg.arches, cfg.n_arches, argv[++i]); }
    else if (strcmp(a, "--seccomp-errno") == 0) {
      NEED(2);
      struct errno_rule r = {(int)parse_ulong(argv[i + 1], 10), argv[i + 2]};
      ADD(cfg.rules, cfg.n_rules, r);
      i += 2;
    } else if (strcmp(a, "--seccomp-clone-flags") == 0) {
      NEED(2);
      cfg.clone_errno = (int)parse_ulong(argv[i + 1], 10);
      cfg.clone_mask = parse_ulong(argv[i + 2], 16);
      i += 2;
    } else if (strcmp(a, "--cwd") == 0) { NEED(1); cfg.cwd = argv[++i]; }
    else if (strcmp(a, "--env") == 0) { NEED(1); cfg.env[cfg.n_env++] = argv[++i]; }
    else usage("unknown option");
  }
  if (!cfg.args || !cfg.args[0]) usage("no command");
  if (!cfg.rootfs || (!cfg.overlay == !cfg.bind_root)) usage("need --rootfs and one of --overlay, --bind-root");
  if (!cfg.cwd) cfg.cwd = "/";
  cfg.env[cfg.n_env] = NULL;
}

static unsigned long mount_flags(const char *list) {
  unsigned long f = 0;
  if (strcmp(list, "-") == 0) return 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    if (strcmp(w, "ro") == 0) f |= MS_RDONLY;
    else if (strcmp(w, "nosuid") == 0) f |= MS_NOSUID;
    else if (strcmp(w, "nodev") == 0) f |= MS_NODEV;
    else if (strcmp(w, "noexec") == 0) f |= MS_NOEXEC;
    else if (strcmp(w, "strictatime") == 0) f |= MS_STRICTATIME;
    else die("unknown mount flag %s", w);
  }
  return f;
}

/* Opens `rel` (relative to the root fd) with every symlink resolved as if `root` were "/". */
static int open_in_root(int root, const char *rel, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
}

/*
 * Returns an O_PATH fd of the mount point `target` inside the root, creating it (and its parents)
 * when missing: a directory, or an empty file when `file` is set (a bind of a file).
 */
static int mount_point(int root, const char *target, int file) {
  char path[4096];
  while (*target == '/') target++;
  if (*target == '\0') return open_in_root(root, ".", O_PATH | O_DIRECTORY);
  snprintf(path, sizeof path, "%s", target);
  int fd = open_in_root(root, path, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  /* Create the missing components one at a time, each looked up inside the root again. */
  for (char *slash = path;; slash++) {
    slash = strchr(slash, '/');
    int last = slash == NULL;
    if (!last) *slash = '\0';
    int exists = open_in_root(root, path, O_PATH);
    if (exists >= 0) close(exists);
    else if (errno == ENOENT) {
      char *name = strrchr(path, '/');
      int parent;
      if (name) {
        *name = '\0';
        parent = open_in_root(root, path, O_PATH | O_DIRECTORY);
        *name = '/';
        name++;
      } else {
        parent = open_in_root(root, ".", O_PATH | O_DIRECTORY);
        name = path;
      }
      if (parent < 0) return -1;
      int r;
      if (last && file) {
        r = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0) close(r);
      } else
        r = mkdirat(parent, name, 0755);
      int saved = errno;
      close(parent);
      if (r < 0 && saved != EEXIST) {
        errno = saved;
        return -1;
      }
    } else
      return -1;
    if (last) break;
    *slash = '/';
  }
  return open_in_root(root, target, O_PATH);
}

static void fd_path(char *buf, size_t size, int fd) { snprintf(buf, size, "/proc/self/fd/%d", fd); }

/*
 * The atime flags a bind mount has now: a remount must repeat them, since in a user namespace the
 * kernel refuses to change the (locked) atime flags of a mount made outside it, as runc knows.
 */
static unsigned long atime_flags(int fd) {
  struct statvfs sv;
  if (fstatvfs(fd, &sv) < 0) return 0;
  if (sv.f_flag & ST_NOATIME) return MS_NOATIME;
  if (sv.f_flag & ST_RELATIME) return MS_RELATIME;
  return (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
}

static void do_mount(int root, const struct mount_item *m) {
  unsigned long flags = mount_flags(m->flags);
  const char *data = strcmp(m->data, "-") == 0 ? NULL : m->data;
  int is_bind = strcmp(m->kind, "bind") == 0;
  int file = 0;
  if (is_bind) {
    struct stat st;
    if (stat(m->source, &st) < 0) die("bind mount source %s: %s", m->source, strerror(errno));
    file = !S_ISDIR(st.st_mode);
  }
  int fd = mount_point(root, m->target, file);
  if (fd < 0) die("mount point %s: %s", m->target, strerror(errno));
  char target[64];
  fd_path(target, sizeof target, fd);
  if (is_bind) {
    if (mount(m->source, target, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind %s on %s: %s", m->source, m->target, strerror(errno));
    close(fd);
    if (flags) {
      /* The flags apply to the new mount: reopen the target, which now resolves to its root. */
      fd = open_in_root(root, m->target, O_PATH);
      if (fd < 0) die("reopen %s: %s", m->target, strerror(errno));
      fd_path(target, sizeof target, fd);
      if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags | atime_flags(fd), NULL) < 0) die("remount %s: %s", m->target, strerror(errno));
      close(fd);
    }
    return;
  }
  const char *source = m->source, *type = m->kind;
  if (strcmp(m->kind, "tmpfs") == 0 && strcmp(m->source, "-") == 0) source = "tmpfs";
  if (mount(source, target, type, flags, data) < 0) die("mount %s on %s: %s", type, m->target, strerror(errno));
  close(fd);
}

/* The minimal /dev, as runc makes it: the allowed character devices and the usual symlinks. */
static void make_devices(int root) {
  static const struct { const char *name; unsigned maj, min; } nodes[] = {
      {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
  };
  static const struct { const char *name, *to; } links[] = {
      {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
  };
  int dev = open_in_root(root, "dev", O_PATH | O_DIRECTORY);
  if (dev < 0) die("/dev: %s", strerror(errno));
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    if (!cfg.bind_devices) {
      if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0 && errno != EEXIST) die("mknod /dev/%s: %s", nodes[i].name, strerror(errno));
      continue;
    }
    char host[64], target[64];
    snprintf(host, sizeof host, "/dev/%s", nodes[i].name);
    int f = openat(dev, nodes[i].name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (f < 0) die("/dev/%s: %s", nodes[i].name, strerror(errno));
    close(f);
    int point = openat(dev, nodes[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (point < 0) die("/dev/%s: %s", nodes[i].name, strerror(errno));
    fd_path(target, sizeof target, point);
    if (mount(host, target, NULL, MS_BIND, NULL) < 0) die("bind %s: %s", host, strerror(errno));
    close(point);
  }
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i].to, dev, links[i].name) < 0 && errno != EEXIST) die("symlink /dev/%s: %s", links[i].name, strerror(errno));
  close(dev);
}

/* A new network namespace has its loopback down; runc brings it up, so a step can serve itself. */
static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("loopback flags: %s", strerror(errno));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("loopback up: %s", strerror(errno));
  close(s);
}

static void pivot(const char *rootfs) {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0 || newroot < 0) die("open root: %s", strerror(errno));
  if (fchdir(newroot) < 0) die("chdir to root: %s", strerror(errno));
  /* pivot_root(".", ".") stacks the old root on the new one; detaching "." then drops it. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root: %s", strerror(errno));
  if (fchdir(oldroot) < 0) die("chdir to old root: %s", strerror(errno));
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) die("make old root slave: %s", strerror(errno));
  if (umount2(".", MNT_DETACH) < 0) die("detach old root: %s", strerror(errno));
  if (chdir("/") < 0) die("chdir /: %s", strerror(errno));
  close(oldroot);
  close(newroot);
}

/* runc's order: the read-only paths, then the masked ones. */
static void protect_paths(void) {
  for (int i = 0; i < cfg.n_readonly; i++) {
    const char *p = cfg.readonly[i];
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT) continue;
      die("read-only %s: %s", p, strerror(errno));
    }
    if (mount(p, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die("read-only %s: %s", p, strerror(errno));
  }
  for (int i = 0; i < cfg.n_masks; i++) {
    const char *p = cfg.masks[i];
    if (mount("/dev/null", p, NULL, MS_BIND, NULL) == 0 || errno == ENOENT) continue;
    if (errno != ENOTDIR) die("mask %s: %s", p, strerror(errno));
    /* A directory: an empty read-only tmpfs over it. */
    if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0) die("mask %s: %s", p, strerror(errno));
  }
}

static void load_seccomp(void) {
  if (cfg.n_rules == 0 && cfg.clone_mask == 0) return;
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) die("seccomp_init failed");
  /* Off: a RUN keeps no_new_privs off (setuid programs work), as under BuildKit. */
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) die("seccomp: cannot leave no_new_privs off");
  for (int i = 0; i < cfg.n_arches; i++) {
    uint32_t arch = seccomp_arch_resolve_name(cfg.arches[i]);
    if (arch == 0) continue; /* unknown to this libseccomp */
    int r = seccomp_arch_add(ctx, arch);
    if (r < 0 && r != -EEXIST) die("seccomp: arch %s: %s", cfg.arches[i], strerror(-r));
  }
  for (int i = 0; i < cfg.n_rules; i++) {
    char *save = NULL;
    for (char *name = strtok_r(cfg.rules[i].names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue; /* unknown here, as runc skips it */
      int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(cfg.rules[i].err), nr, 0);
      if (r < 0) die("seccomp: rule for %s: %s", name, strerror(-r));
    }
  }
  if (cfg.clone_mask) {
    int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(cfg.clone_errno), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, cfg.clone_mask, cfg.clone_mask));
    if (r < 0) die("seccomp: clone rule: %s", strerror(-r));
  }
  int r = seccomp_load(ctx);
  if (r < 0) die("seccomp: load: %s", strerror(-r));
  seccomp_release(ctx);
}

static int setgroups_denied(void) {
  char buf[16] = {0};
  int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "deny", 4) == 0;
}

static void drop_privileges(void) {
  int last = CAP_LAST_CAP;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) {
    if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
    fclose(f);
  }
  for (int c = 0; c <= last && c < 64; c++)
    if (!((cfg.caps >> c) & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die("drop capability %d: %s", c, strerror(errno));
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("keepcaps: %s", strerror(errno));
  /* A user namespace whose gid map was written without newgidmap denies setgroups: the groups
     stay as they are, as runc leaves them there. */
  if (!setgroups_denied() && setgroups((size_t)cfg.n_groups, cfg.groups) < 0) die("setgroups: %s", strerror(errno));
  if (setresgid(cfg.gid, cfg.gid, cfg.gid) < 0) die("setgid %u: %s", cfg.gid, strerror(errno));
  if (setresuid(cfg.uid, cfg.uid, cfg.uid) < 0) die("setuid %u: %s", cfg.uid, strerror(errno));
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die("keepcaps: %s", strerror(errno));
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {{0}};
  data[0].effective = data[0].permitted = (uint32_t)cfg.caps;
  data[1].effective = data[1].permitted = (uint32_t)(cfg.caps >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) die("capset: %s", strerror(errno));
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die("clear ambient capabilities: %s", strerror(errno));
  if (cfg.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs: %s", strerror(errno));
}

/*
 * HOME, when the step's env has none: the user's home in the image's /etc/passwd, else "/", as
 * runc sets it. Read after pivot_root (the image's file), parsed here rather than through NSS,
 * which would load the image's libraries into this process.
 */
static void default_home(void) {
  for (int i = 0; i < cfg.n_env; i++)
    if (strncmp(cfg.env[i], "HOME=", 5) == 0) return;
  static char home[4096 + 5];
  snprintf(home, sizeof home, "HOME=/");
  /* Not blocking on a FIFO an image put there, and only a regular file is read. */
  int fd = open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  FILE *f = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
  if (!f && fd >= 0) close(fd);
  if (f) {
    char line[4096];
    while (fgets(line, sizeof line, f)) {
      /* name:password:uid:gid:gecos:home:shell */
      char *field[7] = {0};
      int n = 0;
      for (char *p = line; n < 7 && p; n++) {
        field[n] = p;
        p = strchr(p, ':');
        if (p) *p++ = '\0';
      }
      if (n < 6 || !field[2][0]) continue;
      char *end;
      unsigned long uid = strtoul(field[2], &end, 10);
      if (*end || uid != cfg.uid) continue;
      field[5][strcspn(field[5], "\n")] = '\0';
      if (field[5][0]) snprintf(home, sizeof home, "HOME=%s", field[5]);
      break;
    }
    fclose(f);
  }
  cfg.env[cfg.n_env++] = home;
  cfg.env[cfg.n_env] = NULL;
}

/* execvp with the step's PATH (not ours), reporting as runc does when nothing runs. */
static void exec_command(void) {
  const char *cmd = cfg.args[0];
  if (strchr(cmd, '/')) {
    execve(cmd, cfg.args, cfg.env);
    die("exec: \"%s\": %s", cmd, strerror(errno));
  }
  const char *search = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (int i = 0; i < cfg.n_env; i++)
    if (strncmp(cfg.env[i], "PATH=", 5) == 0) search = cfg.env[i] + 5;
  int denied = 0;
  char full[4096];
  for (const char *p = search;; p++) {
    const char *end = strchrnul(p, ':');
    int len = (int)(end - p);
    snprintf(full, sizeof full, "%.*s%s%s", len, p, len ? "/" : "", cmd);
    struct stat st;
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(full, X_OK) == 0) {
        execve(full, cfg.args, cfg.env);
        die("exec: \"%s\": %s", full, strerror(errno));
      }
      denied = 1;
    }
    if (*end == '\0') break;
    p = end;
  }
  die(denied ? "exec: \"%s\": permission denied" : "exec: \"%s\": executable file not found in $PATH", cmd);
}

static void child(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("pdeathsig: %s", strerror(errno));
  /* A helper killed before that prctl took effect sent no signal: its end of the report pipe is
     then closed (getppid() cannot tell, it is 0 in a new pid namespace). */
  struct pollfd alive = {.fd = report_fd, .events = POLLOUT};
  if (poll(&alive, 1, 0) < 0 || (alive.revents & (POLLERR | POLLHUP))) _exit(1);
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (cfg.net ? CLONE_NEWNET : 0)) < 0) die("unshare: %s", strerror(errno));
  if (cfg.net) loopback_up();
  umask(0);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private: %s", strerror(errno));
  if (cfg.overlay) {
    if (mount("overlay", cfg.rootfs, "overlay", 0, cfg.overlay) < 0) die("mount the overlay root: %s", strerror(errno));
  } else if (mount(cfg.bind_root, cfg.rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    die("bind the root: %s", strerror(errno));
  int root = open(cfg.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die("open the root: %s", strerror(errno));
  for (int i = 0; i < cfg.n_mounts; i++) do_mount(root, &cfg.mounts[i]);
  if (cfg.devices || cfg.bind_devices) make_devices(root);
  close(root);
  pivot(cfg.rootfs);
  protect_paths();
  default_home();
  if (cfg.readonly_root && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) die("read-only root: %s", strerror(errno));
  if (cfg.hostname && sethostname(cfg.hostname, strlen(cfg.hostname)) < 0) die("sethostname: %s", strerror(errno));
  load_seccomp();
  drop_privileges();
  if (chdir(cfg.cwd) < 0) die("chdir to cwd (\"%s\") set in config.json failed: %s", cfg.cwd, strerror(errno));
  umask(022);
  /* Its own death signal again: changing credentials cleared it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("pdeathsig: %s", strerror(errno));
  exec_command();
}

/*
 * cgroup v2 has no devices.allow: the kernel asks a BPF_PROG_TYPE_CGROUP_DEVICE program attached
 * to the cgroup. This one allows what a --device-rule line allows and denies everything else,
 * the "deny all, then allow" list of cgroup v1. A request is allowed when one rule matches its
 * type, major and minor and holds every access bit asked for.
 */
static struct bpf_insn prog[16 + MAX_ITEMS * 8];
static int n_prog;

static int emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  if (n_prog >= (int)(sizeof prog / sizeof prog[0])) usage("too many device rules");
  prog[n_prog] = (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
  return n_prog++;
}

static long parse_device_number(const char *s, const char *rule) {
  if (strcmp(s, "*") == 0) return -1;
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 0) {
    die("bad device rule \"%s\"", rule);
  }
  return v;
}

static void build_device_filter(void) {
  /* r2 = type, r3 = access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx in r1). */
  emit(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);
  emit(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
  emit(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0);
  emit(BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16);
  emit(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);
  emit(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);
  for (int i = 0; i < cfg.n_device_rules; i++) {
    const char *rule = cfg.device_rules[i];
    char type, numbers[64], access[8];
    if (sscanf(rule, "%c %63s %7s", &type, numbers, access) != 3 || !strchr(numbers, ':')) {
      die("bad device rule \"%s\"", rule);
    }
    *strchr(numbers, ':') = '\0';
    long major = parse_device_number(numbers, rule), minor = parse_device_number(numbers + strlen(numbers) + 1, rule);
    int bits = (strchr(access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0) | (strchr(access, 'r') ? BPF_DEVCG_ACC_READ : 0) | (strchr(access, 'w') ? BPF_DEVCG_ACC_WRITE : 0);
    int jumps[4], n_jumps = 0;
    if (type == 'c' || type == 'b') jumps[n_jumps++] = emit(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
    else if (type != 'a') {
      die("bad device rule \"%s\"", rule);
    }
    if (bits != 7) {
      /* Some asked-for bit outside the rule's: not this rule. r1 is free once the fields are read. */
      emit(BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0);
      emit(BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, ~bits & 7);
      jumps[n_jumps++] = emit(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 0, 0);
    }
    if (major >= 0) jumps[n_jumps++] = emit(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)major);
    if (minor >= 0) jumps[n_jumps++] = emit(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)minor);
    emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
    emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (int j = 0; j < n_jumps; j++) prog[jumps[j]].off = (int16_t)(n_prog - jumps[j] - 1);
    /* A rule matching everything ends the program: the verifier refuses unreachable code. */
    if (n_jumps == 0) return;
  }
  emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
  emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static int bpf_call(int cmd, union bpf_attr *attr) { return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr); }

/* Attaches the filter unless the cgroup already has one (made for these rules: its name says so). */
static void attach_device_filter(const char *dir) {
  int cg = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (cg < 0) {
    die("open %s: %s", dir, strerror(errno));
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t)cg;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  if (bpf_call(BPF_PROG_QUERY, &attr) == 0 && attr.query.prog_cnt > 0) {
    close(cg);
    return;
  }
  build_device_filter();
  static char log[8192];
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)prog;
  attr.insn_cnt = (uint32_t)n_prog;
  attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = sizeof log;
  attr.log_level = 1;
  int fd = bpf_call(BPF_PROG_LOAD, &attr);
  if (fd < 0) {
    die("load the device filter: %s\n%s", strerror(errno), log);
  }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)cg;
  attr.attach_bpf_fd = (uint32_t)fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  /* Beside any filter of a parent cgroup, not instead of it: all of them must allow. */
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf_call(BPF_PROG_ATTACH, &attr) < 0) {
    die("attach the device filter to %s: %s", dir, strerror(errno));
  }
  close(fd);
  close(cg);
}

static void join_cgroup(const char *dir) {
  char procs[4096];
  snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0", 1) != 1) {
    die("join %s: %s", procs, strerror(errno));
  }
  close(fd);
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) return 1;
  if (cfg.devices_cgroup) join_cgroup(cfg.devices_cgroup);
  if (cfg.devices_cgroup2) {
    attach_device_filter(cfg.devices_cgroup2);
    join_cgroup(cfg.devices_cgroup2);
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  /* Only the pid namespace here (it applies to the child); the rest the child makes for itself,
     so pivot_root in its mount namespace leaves this process's root alone. */
  if (unshare(CLONE_NEWPID) < 0) die("unshare: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    close(report[0]);
    report_fd = report[1];
    child();
  }
  close(report[1]);
  char msg[1024];
  ssize_t n, len = 0;
  while ((n = read(report[0], msg + len, sizeof msg - 1 - (size_t)len)) > 0) len += n;
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return perror("waitpid"), 1;
  if (len > 0) {
    msg[len] = '\0';
    fprintf(stderr, "tsbuild-sandbox-exec: unable to start container process: %s\n", msg);
    return 1;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
