/**
 * The state root: where tsbuild keeps blobs, images, snapshots and the cache index (root-dir.ts
 * says where it is).
 */
import { mkdir } from 'node:fs/promises';
import { createContentStore } from './content-store.js';
import { createImageStore } from './image-store.js';
import type { ContentStore, ImageStore } from './types.js';
import { fsckStateRoot, type FsckReport } from './gc.js';
import { acquireLock, type ReleaseLock } from './lock.js';
import { resolveStateRootDir } from './root-dir.js';

export { resolveStateRootDir };

export interface StateRoot {
  root: string;
  content: ContentStore;
  images: ImageStore;
  /** Advisory cross-process lock (see lock.ts); resolves to its release function. */
  lock(name: string): Promise<ReleaseLock>;
  /** Re-hashes blobs, checks image records; `repair` removes corrupt blobs and stale ingest files. */
  fsck(options?: { repair?: boolean }): Promise<FsckReport>;
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
