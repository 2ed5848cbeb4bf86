/**
 * The state root: where tsbuild keeps blobs, images, snapshots and the cache index.
 * --root wins, then $TSBUILD_ROOT, then /var/lib/tsbuild for root or the XDG data dir.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContentStore } from './content-store.js';
import { createImageStore } from './image-store.js';
import type { ContentStore, ImageStore } from './types.js';
import { fsckStateRoot, type FsckReport } from './gc.js';
import { acquireLock, type ReleaseLock } from './lock.js';

export interface StateRoot {
  root: string;
  content: ContentStore;
  images: ImageStore;
  /** Advisory cross-process lock (see lock.ts); resolves to its release function. */
  lock(name: string): Promise<ReleaseLock>;
  /** Re-hashes blobs, checks image records; `repair` removes corrupt blobs and stale ingest files. */
  fsck(options?: { repair?: boolean }): Promise<FsckReport>;
}

export function resolveStateRootDir(options: { root?: string | undefined; env?: NodeJS.ProcessEnv }): string {
  const env = options.env ?? {};
  if (options.root) return path.resolve(options.root);
  if (env.TSBUILD_ROOT) return path.resolve(env.TSBUILD_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/tsbuild';
  const data = env.XDG_DATA_HOME ?? path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return path.join(data, 'tsbuild');
}

export async function openStateRoot(options: { root?: string | undefined; env?: NodeJS.ProcessEnv }): Promise<StateRoot> {
  const root = resolveStateRootDir(options);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const state: StateRoot = {
    root,
    content: createContentStore(root),
    images: createImageStore(root),
    lock: (name) => acquireLock(root, name),
    fsck: (opts) => fsckStateRoot(state, opts),
  };
  return state;
}
