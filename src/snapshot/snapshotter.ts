/**
 * Snapshots: every layer is unpacked once into snapshots/layers/<diff_id> (overlay format, so
 * whiteouts stay whiteouts) and stacked with overlayfs for each step. A finished step's upper
 * dir is adopted as the unpacked form of the layer it produced, so a layer built here is never
 * unpacked again. Mounts are made with util-linux `mount` and always undone in finally blocks;
 * cleanupStaleMounts() removes any a killed process left under the state root.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TsbuildError } from '../errors/index.js';
import { digestHex, type Digest } from '../util/digest.js';
import { unpackLayer } from './unpack.js';
import { createLayerFromOverlayUpper, type DiffOptions } from './diff.js';
import { createLayerFromTreeDiff } from './tree-diff.js';
import type { Readable } from 'node:stream';
import { hostCommand } from '../util/host-command.js';

/** The kernel copies mount options into one page; leave room for the mount helper's additions. */
const MAX_OVERLAY_OPTIONS = 4000;

const run = promisify(execFile);

export interface ActiveSnapshot {
  /** Lower dirs, top layer first. */
  lower: string[];
  upper: string;
  work: string;
  /** Scratch dir of this snapshot (holds upper/work and a mount point). */
  dir: string;
  /**
   * `overlay`: upper/work stacked on `lower`. `copy` (no overlayfs): `upper` is a full copy of the
   * merged lower view that the step writes to, compared with `base` (the untouched view) on diff.
   */
  kind: 'overlay' | 'copy';
  /** The overlay mount's -o string ('' for copy snapshots). */
  mountOptions: string;
  /** Untouched merged lower view (copy snapshots only). */
  base?: string;
  /** The step's changes as an uncompressed OCI layer tar (call after unmounting). */
  diff(options?: DiffOptions): Readable;
  dispose(): Promise<void>;
}

export interface Snapshotter {
  root: string;
  layerDir(diffId: Digest): string;
  hasLayer(diffId: Digest): Promise<boolean>;
  ensureLayer(diffId: Digest, open: () => AsyncIterable<Uint8Array>): Promise<string>;
  /** Moves a finished upper dir into place as the unpacked form of `diffId`. */
  adoptLayer(diffId: Digest, upperDir: string): Promise<void>;
  /**
   * Whether snapshots here are overlays (else copies): probed once, remembered in the root. A build
   * asks early so that a fresh root's probe runs while the context is still being hashed.
   */
  overlayAvailable(): Promise<boolean>;
  /** `kind` defaults to overlay when the kernel supports it, else copy. */
  prepare(lowerTopFirst: string[], kind?: 'overlay' | 'copy'): Promise<ActiveSnapshot>;
  mount(active: ActiveSnapshot, target: string): Promise<() => Promise<void>>;
  mountReadOnly(lowerTopFirst: string[], target: string): Promise<() => Promise<void>>;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Writable overlays are mounted `volatile` (Linux 5.10+): overlayfs then turns the fsyncs a step
 * makes into no-ops and skips syncing the upper filesystem on unmount. A step's writes need no
 * durability of their own: a crashed build runs the step again, and a killed one loses nothing
 * (the page cache outlives the process). dpkg alone fsyncs every file it installs. A kernel that
 * refuses the option gets mounts without it (mountOverlayFs).
 */
let volatileUpper = ((r) => r[0]! > 5 || (r[0] === 5 && r[1]! >= 10))(os.release().split('.').map(Number));

/** Options for an overlay mount of `lower` (top first); throws a clear error past the kernel's limit. */
export function overlayMountOptions(lowerTopFirst: string[], upper?: string, work?: string): string {
  const rw = upper !== undefined && work !== undefined ? `,upperdir=${upper},workdir=${work}${volatileUpper ? ',volatile' : ''}` : '';
  // Two steps with the same diff (two `RUN true`, a WORKDIR that exists) share one layer dir, and
  // overlayfs refuses a lowerdir listed twice (ELOOP). Only the topmost copy is kept, which gives
  // the same view: the lower copy holds exactly what the upper one already provides above it.
  const lower = lowerTopFirst.filter((d, i) => lowerTopFirst.indexOf(d) === i);
  const options = `lowerdir=${lower.join(':')}${rw},index=off,redirect_dir=off,metacopy=off`;
  if (options.length > MAX_OVERLAY_OPTIONS) {
    throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `too many layers for one overlay mount: ${lower.length} lower dirs need ${options.length} bytes of mount options (limit ${MAX_OVERLAY_OPTIONS}); squash the base image`);
  }
  return options;
}

/** Mounts an overlay at `target` with `options` (overlayMountOptions); without `volatile` when the kernel refuses it. */
export async function mountOverlayFs(options: string, target: string): Promise<void> {
  try {
    await hostCommand('mount', ['-t', 'overlay', 'overlay', '-o', options, target]);
  } catch (err) {
    if (!options.includes(',volatile')) throw err;
    volatileUpper = false;
    await hostCommand('mount', ['-t', 'overlay', 'overlay', '-o', options.replace(',volatile', ''), target]);
  }
}

let overlayProbe: Promise<boolean> | undefined;
/** Whether an overlay with upper/work dirs can be mounted here (probed once per process). */
export function overlaySupported(scratchParent: string = os.tmpdir()): Promise<boolean> {
  return (overlayProbe ??= (async () => {
    const dir = await mkdtemp(path.join(scratchParent, `${process.pid}-ovl-probe-`));
    const [l, u, w, m] = ['l', 'u', 'w', 'm'].map((n) => path.join(dir, n)) as [string, string, string, string];
    try {
      await Promise.all([l, u, w, m].map((d) => mkdir(d)));
      await mountOverlayFs(overlayMountOptions([l], u, w), m);
      await unmount(m);
      return true;
    } catch {
      return false;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })());
}

/**
 * Flattens overlay-format layer dirs (top first, as for prepare) into `dir`, applying their
 * whiteouts: used for `-o type=local` and for the copy-based fallback.
 */
export async function mergeLayersTo(dir: string, layerDirsTopFirst: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const layer of [...layerDirsTopFirst].reverse()) {
    await unpackLayer(createLayerFromOverlayUpper(layer), dir, { mode: 'merge', compression: 'none' });
  }
}

export async function unmount(target: string): Promise<void> {
  try {
    await hostCommand('umount', [target]);
  } catch {
    // Busy (a process still has a file open): detach it so nothing stays visible.
    await hostCommand('umount', ['-l', target]).catch(() => {});
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner pid at the head of a `<pid>-…` dir name; undefined when the name has none. */
function ownerPid(name: string): number | undefined {
  const m = /^(\d+)-/.exec(name);
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

/** Whether that owner has exited (never this process). */
const ownerGone = (pid: number): boolean => pid !== process.pid && !alive(pid);

/** Mount points of this process's mount table that lie under `prefix`, in mount order. */
async function mountsUnder(prefix: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((t): t is string => t !== undefined && t.startsWith(prefix));
}

/** Removes half-unpacked layers and snapshots whose process is gone (SIGKILL), and unnamed leftovers. */
async function removeOrphans(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = ownerPid(name);
    // A dir still holding a mount (EBUSY) waits for the next cleanupStaleMounts.
    if (pid === undefined || ownerGone(pid)) await rm(path.join(dir, name), { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * overlaySupported, remembered in the state root: the probe mounts and unmounts an overlay, ~15 ms
 * of every build that runs a step. The answer holds for one kernel, one filesystem under the
 * root and one user namespace (rootless overlays need more of the kernel), so those are the key;
 * only a yes is kept, a no is probed again (the copy fallback costs far more than a probe).
 */
async function overlayWorksUnder(base: string, tmp: string): Promise<boolean> {
  const marker = path.join(base, 'overlay-probe');
  const userns = (await readFile('/proc/self/uid_map', 'utf8').catch(() => '')).trim().split(/\s+/).join(' ');
  const key = `${os.release()}|${(await stat(base)).dev}|${userns}\n`;
  if ((await readFile(marker, 'utf8').catch(() => '')) === key) return true;
  const ok = await overlaySupported(tmp);
  if (ok) {
    const part = `${marker}.${process.pid}.tmp`;
    await writeFile(part, key)
      .then(() => rename(part, marker))
      .catch(() => rm(part, { force: true }));
  }
  return ok;
}

export function createSnapshotter(stateRoot: string): Snapshotter {
  const base = path.join(stateRoot, 'snapshots');
  const layers = path.join(base, 'layers');
  const tmp = path.join(base, 'tmp');
  const active = path.join(base, 'active');
  const empty = path.join(base, 'empty');
  const pending = new Map<string, Promise<string>>();
  let ready: Promise<unknown> | undefined;
  // New snapshot dirs stay near their parent. Marking `active` and `tmp` as tops of directory
  // trees for ext4's Orlov allocator (chattr +T, tried) sent each into a randomly chosen, lightly
  // used block group: a cold 2,000-file COPY then took 0.15-0.25 s in most builds, but 0.4-1.8 s
  // in others (four in a row at ~1.7 s against ~0.14 s without the flag on the same disk), where
  // without it they took 0.17-0.32 s (A/B of 8 cold builds each on this VM's no-journal ext4).
  const init = () =>
    (ready ??= Promise.all([layers, tmp, active, empty].map((d) => mkdir(d, { recursive: true })))
      // Snapshots of killed builds (their mounts are gone: cleanupStaleMounts ran first).
      .then(() => Promise.all([removeOrphans(tmp), removeOrphans(active)])));
  const layerDir = (d: Digest) => path.join(layers, digestHex(d));
  let overlayOk: Promise<boolean> | undefined;

  const mountOverlay = async (options: string, target: string): Promise<() => Promise<void>> => {
    await mkdir(target, { recursive: true });
    try {
      await mountOverlayFs(options, target);
    } catch (err) {
      throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `overlay mount failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      await unmount(target);
    };
  };

  const snapshotter: Snapshotter = {
    root: base,
    layerDir,
    // Synchronous for the same reason as cache-index.ts get(): asked per layer of every cache hit.
    hasLayer: async (d) => existsSync(layerDir(d)),
    async ensureLayer(diffId, open) {
      await init();
      const dir = layerDir(diffId);
      if (await exists(dir)) return dir;
      let p = pending.get(diffId);
      if (!p) {
        p = (async () => {
          // The pid in the name lets a later process tell a crashed unpack from a running one.
          const work = path.join(tmp, `${process.pid}-${randomBytes(8).toString('hex')}`);
          try {
            const r = await unpackLayer(open(), work, { mode: 'overlay' });
            if (r.diffId !== diffId) throw new TsbuildError('ERR_TSBUILD_STORE_CORRUPT', `layer content does not match its diff_id ${diffId} (got ${r.diffId})`);
            await rename(work, dir).catch(async (err: NodeJS.ErrnoException) => {
              // Another process unpacked it first: theirs is identical.
              if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
            });
            return dir;
          } finally {
            await rm(work, { recursive: true, force: true });
            pending.delete(diffId);
          }
        })();
        pending.set(diffId, p);
      }
      return p;
    },
    async adoptLayer(diffId, upperDir) {
      await init();
      const dir = layerDir(diffId);
      // Synchronous, as the other per-step metadata calls here: each await was a thread-pool round trip.
      if (existsSync(dir)) return;
      try {
        renameSync(upperDir, dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    },
    overlayAvailable: () => (overlayOk ??= init().then(() => overlayWorksUnder(base, tmp))),
    async prepare(lowerTopFirst, kind) {
      await init();
      const mode = kind ?? ((await snapshotter.overlayAvailable()) ? 'overlay' : 'copy');
      // The owner's pid leads the name: another build's start-up cleanup leaves live ones alone.
      const dir = path.join(active, `${process.pid}-${randomBytes(8).toString('hex')}`);
      const upper = path.join(dir, 'upper');
      const work = path.join(dir, 'work');
      // Listed once each (see overlayMountOptions): the sandbox mounts `lower` itself.
      const lower = lowerTopFirst.length > 0 ? lowerTopFirst.filter((d, i) => lowerTopFirst.indexOf(d) === i) : [empty];
      const dispose = async (): Promise<void> => rmSync(dir, { recursive: true, force: true });
      if (mode === 'copy') {
        const base = path.join(dir, 'base');
        try {
          await mergeLayersTo(base, lowerTopFirst);
          await mkdir(dir, { recursive: true });
          // cp -a keeps hardlinks, owners, modes, times and xattrs; reflinks where the fs allows.
          await run('cp', ['-a', '--reflink=auto', base, upper]);
          await mkdir(work);
        } catch (err) {
          await dispose();
          throw err;
        }
        return { kind: 'copy', lower, upper, work, dir, base, mountOptions: '', diff: (o) => createLayerFromTreeDiff(base, upper, o), dispose };
      }
      const mountOptions = overlayMountOptions(lower, upper, work);
      mkdirSync(upper, { recursive: true, mode: 0o755 });
      mkdirSync(work, { recursive: true });
      return { kind: 'overlay', lower, upper, work, dir, mountOptions, diff: (o) => createLayerFromOverlayUpper(upper, o), dispose };
    },
    async mount(a, target) {
      if (a.kind === 'copy') {
        await mkdir(target, { recursive: true });
        await hostCommand('mount', ['--bind', a.upper, target]);
        return async () => unmount(target);
      }
      return mountOverlay(a.mountOptions, target);
    },
    async mountReadOnly(lowerTopFirst, target) {
      await init();
      // A read-only overlay needs two lower dirs at least.
      const lower = [...lowerTopFirst, empty].slice(0, Math.max(2, lowerTopFirst.length + 1));
      return mountOverlay(overlayMountOptions(lower), target);
    },
  };
  return snapshotter;
}

/** Prefix of a build's scratch dir in the temp dir; the owner's pid follows it. */
export const BUILD_TMP_PREFIX = 'tsbuild-build-';

/**
 * A SIGKILLed build leaves its scratch dir (`<tmp>/tsbuild-build-<pid>-…`) behind, possibly
 * with a file op's overlay still mounted in it: unmount and remove those of dead owners.
 */
export async function cleanupStaleBuildDirs(tmpParent: string = os.tmpdir()): Promise<number> {
  const prefix = path.join(tmpParent, BUILD_TMP_PREFIX);
  const deadOwner = (name: string): boolean => {
    const pid = ownerPid(name);
    return pid !== undefined && ownerGone(pid);
  };
  const targets = (await mountsUnder(prefix)).filter((t) => deadOwner(t.slice(prefix.length)));
  for (const t of targets.reverse()) await unmount(t);
  // Only when something was mounted can something still be (a mount that would not go).
  const still = targets.length > 0 ? await mountsUnder(prefix) : [];
  let removed = 0;
  for (const name of await readdir(tmpParent).catch(() => [] as string[])) {
    if (!name.startsWith(BUILD_TMP_PREFIX) || !deadOwner(name.slice(BUILD_TMP_PREFIX.length))) continue;
    // rm must never reach into a mounted tree.
    if (still.some((t) => t.startsWith(path.join(tmpParent, name) + path.sep))) continue;
    await rm(path.join(tmpParent, name), { recursive: true, force: true }).catch(() => {});
    removed++;
  }
  return removed;
}

/**
 * Unmounts what killed processes left mounted under the state root. Builds may share a root, so
 * a mount counts as stale only when the process named at the head of its snapshot dir
 * (`snapshots/active/<pid>-…`, `snapshots/tmp/<pid>-…`) is gone; a name without one is from an
 * older tsbuild and goes too.
 */
export async function cleanupStaleMounts(stateRoot: string): Promise<number> {
  const prefix = path.join(path.resolve(stateRoot), 'snapshots') + path.sep;
  const stale = (target: string): boolean => {
    const pid = ownerPid(target.slice(prefix.length).split(path.sep)[1] ?? '');
    return pid === undefined || ownerGone(pid);
  };
  const targets = (await mountsUnder(prefix)).filter(stale);
  for (const t of targets.reverse()) await unmount(t);
  return targets.length;
}
