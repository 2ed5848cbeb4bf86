/**
 * Runs a SandboxSpec. The config is always the OCI runtime spec BuildKit's runc would get
 * (spec.ts); it is run by tsbuild-sandbox-exec (native/sandbox-exec.c) when exec-args.ts can
 * express all of it and the host has what the helper needs (sandbox-exec.ts), else by runc.
 * runc's start is most of a short RUN's cost: ~35-40 ms per step in the bench's edit build
 * (a Go binary that re-executes itself and sets up cgroups in every hierarchy) against ~3-5 ms
 * for the helper, which does the same setup in the same order (see its header), rootless builds
 * included (host devices bound in, no cgroup, as runc's rootless mode). runc stays for configs
 * the helper does not cover, on hosts without a usable cgroup hierarchy, and when
 * TSBUILD_SANDBOX_RUNTIME=runc.
 *
 * An overlay root is mounted by the runtime, in the container's own mount namespace, which ends
 * with the container. Where that cannot be prepared from the layer dirs (a missing working dir, a
 * symlinked runtime file) it is mounted on the host for the step and always unmounted in
 * `finally` (a SIGKILLed tsbuild cannot: cleanupStaleContainers, run at every build start,
 * removes what a dead owner left). Cancelling kills the container (every process of its pid
 * namespace) and deletes it, so after success, failure or cancel no mount and no process is left.
 */
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { access, chown, lstat, mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import { mountOverlayFs, overlayMountOptions, resolveInRoot, typeInLayers, unmount } from '../snapshot/index.js';
import { rootlessRuncRoot, runningInUserNamespace } from './rootless.js';
import { capabilitiesInMask, toOciRuntimeSpec, type SandboxSpec } from './spec.js';
import { childCpuMs } from './child-cpu.js';
import { planSandboxExec } from './exec-args.js';
import { devicesCgroupArgs, sandboxExecBinary } from './sandbox-exec.js';

const run = promisify(execFile);

export interface SandboxIo {
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  /** The runtime process has been started: the caller now only waits for it. */
  onStart?(): void;
}

export interface SandboxResult {
  exitCode: number;
  signal?: string;
  /** CPU ms of the runtime and the container's processes (see child-cpu.ts for the caveat). */
  cpuMs?: number;
  /** Which runtime ran the step. */
  runtime: SandboxRuntime;
}

export type SandboxRuntime = 'sandbox-exec' | 'runc';

export interface SandboxOptions {
  /** `runc` runs the step with runc even where tsbuild-sandbox-exec could. */
  runtime?: 'auto' | 'runc';
}

const ID_PREFIX = 'tsbuild-';
/** Bundle directories carry the owner's pid, so a later run can find what a killed tsbuild left. */
const BUNDLE_PREFIX = 'tsbuild-run-';

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Global runc flags: in a user namespace, its rootless mode with a state dir we own. */
async function runcGlobalArgs(): Promise<string[]> {
  return (await runningInUserNamespace()) ? ['--root', await rootlessRuncRoot(), '--rootless', 'true'] : [];
}

export async function checkSandboxAvailable(): Promise<void> {
  if (process.getuid?.() !== 0) {
    // The CLI re-executes a non-root tsbuild in a user namespace (rootless.ts) before it gets here.
    throw new TsbuildError('ERR_TSBUILD_SANDBOX_UNAVAILABLE', 'RUN steps need uid 0: root, or root of a user namespace', {
      hint: 'use the tsbuild CLI (it enters a user namespace by itself), or run under `unshare --user --map-root-user --mount`',
    });
  }
  // A PATH lookup, not `runc --version`: a spawn costs ~10 ms of every build, cached ones too.
  if (!(await onPath('runc'))) throw new TsbuildError('ERR_TSBUILD_SANDBOX_UNAVAILABLE', 'runc was not found on PATH (apt-get install runc)');
}

/** This process's capability bounding set (all bits when /proc cannot say). */
async function boundingSet(): Promise<bigint> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : (1n << 64n) - 1n;
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    if (await access(path.join(dir, command), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

async function existsIn(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'step cancelled', { cause: signal.reason });
}

export async function runSandbox(ctx: BuildContext, spec: SandboxSpec, io: SandboxIo = {}, options: SandboxOptions = {}): Promise<SandboxResult> {
  throwIfCancelled(ctx.signal);
  const runc = await runcGlobalArgs();
  if (runc.length > 0) spec = { ...spec, rootless: true };
  if (spec.privileged) {
    const held = new Set(capabilitiesInMask(await boundingSet()));
    spec = { ...spec, capabilities: spec.capabilities.filter((c) => held.has(c)) };
  }
  const id = `${ID_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`;
  // The bundle's few small files are made and removed synchronously: each awaited call was a
  // thread-pool round trip, ~10 of them per RUN step.
  const bundle = mkdtempSync(path.join(os.tmpdir(), `${BUNDLE_PREFIX}${process.pid}-`));
  let rootPath: string;
  let release: (() => Promise<void>) | undefined;
  // Overlay options when the runtime mounts the root inside the container's mount namespace.
  let rootOverlay: string | undefined;
  const stubs: string[] = [];
  // `runc run` in the foreground destroys its container when the process exits on its own; only
  // a cancel, a start failure or a non-zero exit needs an explicit (4 ms) `runc delete`.
  let clean = false;
  // runc until the helper is chosen: a setup failure before that deletes as it always did.
  let runtime: SandboxRuntime = 'runc';
  try {
    const inNamespace = spec.rootfs.kind === 'overlay' ? namespacedRootStubs(spec.rootfs.lower, spec.cwd) : undefined;
    if (spec.rootfs.kind === 'overlay' && inNamespace) {
      // The runtime mounts the overlay as the container's root in its own mount namespace: no mount and
      // umount on the host per step (~6 ms), and nothing left mounted if tsbuild is killed.
      rootPath = path.join(bundle, 'rootfs');
      mkdirSync(rootPath);
      const { lower, upper, work } = spec.rootfs;
      rootOverlay = overlayMountOptions(lower, upper, work);
      stubs.push(...inNamespace.map((rel) => path.join(upper, rel)));
    } else if (spec.rootfs.kind === 'overlay') {
      rootPath = path.join(bundle, 'rootfs');
      await mkdir(rootPath);
      try {
        await mountOverlayFs(overlayMountOptions(spec.rootfs.lower, spec.rootfs.upper, spec.rootfs.work), rootPath);
      } catch (err) {
        throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `overlay mount failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
      }
      release = () => unmount(rootPath);
    } else rootPath = spec.rootfs.path;

    if (!rootOverlay) {
      // Mount points the runtime would create (and leave in the layer): remember which are new.
      for (const rel of RUNTIME_FILES) {
        const p = await resolveInRoot(rootPath, rel, rel);
        if (!(await existsIn(p))) stubs.push(p);
      }
      // The working directory is created when missing, owned by the step's user (as BuildKit).
      const cwd = await resolveInRoot(rootPath, spec.cwd, spec.cwd);
      if (!(await existsIn(cwd))) {
        await mkdir(cwd, { recursive: true, mode: 0o755 });
        await chown(cwd, spec.user.uid, spec.user.gid);
      }
    }
    const files = { hosts: path.join(bundle, 'hosts'), resolvConf: path.join(bundle, 'resolv.conf'), hostname: path.join(bundle, 'hostname') };
    writeFileSync(files.hosts, spec.hosts);
    writeFileSync(files.resolvConf, spec.resolvConf);
    writeFileSync(files.hostname, `${spec.hostname}\n`);
    const config = toOciRuntimeSpec(spec, rootPath, files, `/tsbuild/${id}`, rootOverlay);
    const fast = options.runtime !== 'runc' ? sandboxExecCommand(config, spec.rootless) : undefined;
    runtime = fast ? 'sandbox-exec' : 'runc';
    if (!fast) writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));

    // Setup can outlast a cancel (a loaded machine): an already-aborted signal never fires 'abort'.
    throwIfCancelled(ctx.signal);
    return await new Promise<SandboxResult>((resolve, reject) => {
      const cpu0 = childCpuMs();
      const child = fast ? spawn(fast.binary, fast.args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('runc', [...runc, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (c: Buffer) => io.onStdout?.(c));
      child.stderr.on('data', (c: Buffer) => io.onStderr?.(c));
      io.onStart?.();
      const onAbort = () => {
        // SIGKILL to the container's init ends its whole pid namespace. The helper's command
        // gets it from the helper's death (PR_SET_PDEATHSIG).
        if (!fast) execFile('runc', [...runc, 'kill', id, 'KILL'], () => {});
        child.kill('SIGKILL');
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      if (ctx.signal.aborted) onAbort();
      child.on('error', (err) => {
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `cannot start ${runtime}: ${err.message}`, { cause: err }));
      });
      child.on('close', (code, signal) => {
        ctx.signal.removeEventListener('abort', onAbort);
        if (ctx.signal.aborted) reject(new TsbuildError('ERR_TSBUILD_CANCELLED', 'step cancelled', { cause: ctx.signal.reason }));
        else {
          clean = code === 0;
          const cpu1 = childCpuMs();
          const cpuMs = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
          resolve({ exitCode: code ?? 128, ...(signal ? { signal } : {}), ...(cpuMs !== undefined ? { cpuMs } : {}), runtime });
        }
      });
    });
  } finally {
    // The helper leaves no state behind; runc's container is gone by itself only after a clean exit.
    if (runtime === 'runc' && !clean) await run('runc', [...runc, 'delete', '--force', id]).catch(() => {});
    for (const stub of stubs) {
      const st = lstatSync(stub, { throwIfNoEntry: false });
      if (st?.isFile() && st.size === 0) rmSync(stub, { force: true });
    }
    if (release) await release();
    rmSync(bundle, { recursive: true, force: true });
  }
}

/** The helper's command line for `config`, or undefined when runc must run it (see top). */
function sandboxExecCommand(config: Record<string, unknown>, rootless: boolean): { binary: string; args: string[] } | undefined {
  const binary = sandboxExecBinary();
  if (!binary) return undefined;
  const plan = planSandboxExec(config, { rootless });
  if (!plan) return undefined;
  if (!plan.devices) return { binary, args: plan.args };
  const cgroup = devicesCgroupArgs(plan.devices);
  if (!cgroup) return undefined;
  return { binary, args: [...cgroup, ...plan.args] };
}

/** Files the runtime bind-mounts into every container, created in the root when missing. */
const RUNTIME_FILES = ['etc/hosts', 'etc/resolv.conf', 'etc/hostname'];

/**
 * Whether the runtime can mount an overlay root itself, read from the layer dirs: the working directory
 * must exist (creating it needs the merged view), and the runtime files must be plain files or
 * absent (a symlink would lead the runtime to create its target somewhere). Returns the runtime files
 * the runtime will create in the upper dir (removed after the step), or undefined for a host mount.
 */
function namespacedRootStubs(lowerTopFirst: string[], cwd: string): string[] | undefined {
  if (typeInLayers(lowerTopFirst, cwd) !== 'dir') return undefined;
  const stubs: string[] = [];
  for (const rel of RUNTIME_FILES) {
    const type = typeInLayers(lowerTopFirst, rel);
    if (type === undefined) stubs.push(rel);
    else if (type !== 'file') return undefined;
  }
  return stubs;
}

/**
 * Kills and deletes containers left by tsbuild processes that no longer exist (a SIGKILLed
 * tsbuild cannot run its `finally`), then unmounts and removes their overlay roots.
 */
export async function cleanupStaleContainers(): Promise<number> {
  let list: Array<{ id: string }> = [];
  const runc = await runcGlobalArgs();
  // runc keeps one directory per container under its state root: reading it saves the ~10 ms
  // `runc list` spawn on every build; runc is asked only when that directory is unreadable.
  const names = await readdir(runc.length > 0 ? runc[1]! : '/run/runc').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : undefined));
  if (names) list = names.filter((id) => id.startsWith(ID_PREFIX)).map((id) => ({ id }));
  else {
    try {
      const { stdout } = await run('runc', [...runc, 'list', '--format', 'json']);
      list = (JSON.parse(stdout || '[]') as Array<{ id: string }> | null) ?? [];
    } catch {
      list = [];
    }
  }
  let n = 0;
  for (const c of list) {
    const m = new RegExp(`^${ID_PREFIX}(\\d+)-`).exec(c.id);
    if (!m || pidAlive(Number(m[1]))) continue;
    await run('runc', [...runc, 'delete', '--force', c.id]).catch(() => {});
    n++;
  }
  const tmp = os.tmpdir();
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const stale = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const target = line.split(' ')[4];
    if (!target || path.dirname(path.dirname(target)) !== tmp) continue;
    const m = new RegExp(`^${BUNDLE_PREFIX}(\\d+)-`).exec(path.basename(path.dirname(target)));
    if (m && !pidAlive(Number(m[1]))) stale.add(target);
  }
  for (const target of stale) {
    await unmount(target);
    // rmdir refuses a directory that is still a mount point: never recurse into a live overlay.
    if (await rmdir(target).then(() => true, () => false)) await rm(path.dirname(target), { recursive: true, force: true });
  }
  // Bundles of dead owners with nothing mounted (the runtime mounted their root in the container's
  // namespace, which died with it) only hold the config and runtime files.
  const mounted = new Set([...mountinfo.matchAll(/^\S+ \S+ \S+ \S+ (\S+)/gm)].map((m) => path.dirname(m[1]!)));
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    const m = new RegExp(`^${BUNDLE_PREFIX}(\\d+)-`).exec(name);
    const dir = path.join(tmp, name);
    // Another user's (a rootless build sees root's): not ours to remove, and never a reason to fail.
    if (m && !pidAlive(Number(m[1])) && !stale.has(path.join(dir, 'rootfs')) && !mounted.has(dir)) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  return n;
}

/** The host's resolv.conf, for RUN steps on the host network (read per step: it may change). */
export async function hostResolvConf(): Promise<string> {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
