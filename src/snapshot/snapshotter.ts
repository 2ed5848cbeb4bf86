/**
 * Snapshots: every layer is unpacked once into snapshots/layers/<diff_id> (overlay format, so
 * whiteouts stay whiteouts) and stacked with overlayfs for each step. A finished step's upper
 * dir is adopted as the unpacked form of the layer it produced, so a layer built here is never
 * unpacked again. Mounts are made with util-linux `mount` and always undone in finally blocks;
 * cleanupStaleMounts() removes any a killed process left under the state root.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { TsbuildError } from '../errors/index.js';
import { digestHex, type Digest } from '../util/digest.js';
import { unpackLayer } from './unpack.js';

const run = promisify(execFile);

export interface ActiveSnapshot {
  /** Lower dirs, top layer first. */
  lower: string[];
  upper: string;
  work: string;
  /** Scratch dir of this snapshot (holds upper/work and a mount point). */
  dir: string;
  dispose(): Promise<void>;
}

export interface Snapshotter {
  root: string;
  layerDir(diffId: Digest): string;
  hasLayer(diffId: Digest): Promise<boolean>;
  ensureLayer(diffId: Digest, open: () => AsyncIterable<Uint8Array>): Promise<string>;
  /** Moves a finished upper dir into place as the unpacked form of `diffId`. */
  adoptLayer(diffId: Digest, upperDir: string): Promise<void>;
  prepare(lowerTopFirst: string[]): Promise<ActiveSnapshot>;
  mount(active: ActiveSnapshot, target: string): Promise<() => Promise<void>>;
  mountReadOnly(lowerTopFirst: string[], target: string): Promise<() => Promise<void>>;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export async function unmount(target: string): Promise<void> {
  try {
    await run('umount', [target]);
  } catch {
    // Busy (a process still has a file open): detach it so nothing stays visible.
    await run('umount', ['-l', target]).catch(() => {});
  }
}

export function createSnapshotter(stateRoot: string): Snapshotter {
  const base = path.join(stateRoot, 'snapshots');
  const layers = path.join(base, 'layers');
  const tmp = path.join(base, 'tmp');
  const active = path.join(base, 'active');
  const empty = path.join(base, 'empty');
  const pending = new Map<string, Promise<string>>();
  let ready: Promise<unknown> | undefined;
  const init = () => (ready ??= Promise.all([layers, tmp, active, empty].map((d) => mkdir(d, { recursive: true }))));
  const layerDir = (d: Digest) => path.join(layers, digestHex(d));

  const mountOverlay = async (options: string, target: string): Promise<() => Promise<void>> => {
    await mkdir(target, { recursive: true });
    if (options.length > 3800) {
      throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `too many layers for one overlay mount (${options.length} bytes of mount options)`);
    }
    try {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target]);
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

  return {
    root: base,
    layerDir,
    hasLayer: (d) => exists(layerDir(d)),
    async ensureLayer(diffId, open) {
      await init();
      const dir = layerDir(diffId);
      if (await exists(dir)) return dir;
      let p = pending.get(diffId);
      if (!p) {
        p = (async () => {
          const work = path.join(tmp, randomBytes(8).toString('hex'));
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
      if (await exists(dir)) return;
      await rename(upperDir, dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    },
    async prepare(lowerTopFirst) {
      await init();
      const dir = path.join(active, randomBytes(8).toString('hex'));
      const upper = path.join(dir, 'upper');
      const work = path.join(dir, 'work');
      await mkdir(upper, { recursive: true, mode: 0o755 });
      await mkdir(work, { recursive: true });
      return {
        lower: lowerTopFirst.length > 0 ? lowerTopFirst : [empty],
        upper,
        work,
        dir,
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
    mount(a, target) {
      return mountOverlay(`lowerdir=${a.lower.join(':')},upperdir=${a.upper},workdir=${a.work},index=off,redirect_dir=off,metacopy=off`, target);
    },
    async mountReadOnly(lowerTopFirst, target) {
      await init();
      // A read-only overlay needs two lower dirs at least.
      const lower = [...lowerTopFirst, empty].slice(0, Math.max(2, lowerTopFirst.length + 1));
      return mountOverlay(`lowerdir=${lower.join(':')},index=off,redirect_dir=off,metacopy=off`, target);
    },
  };
}

/** Unmounts anything left mounted under the state root by a killed process. */
export async function cleanupStaleMounts(stateRoot: string): Promise<number> {
  const prefix = path.join(path.resolve(stateRoot), 'snapshots') + path.sep;
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const targets = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((t): t is string => t !== undefined && t.startsWith(prefix))
    .map((t) => t.replace(/\\040/g, ' '));
  for (const t of targets.reverse()) await unmount(t);
  return targets.length;
}
