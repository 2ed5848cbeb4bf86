/**
 * Cache mount contents (RUN --mount=type=cache) as tarballs in the cache artifact. Export tars
 * the mount dir as it is (no whiteouts can occur there); import unpacks into an empty dir only,
 * so a runner's own warm mount always wins over an imported one.
 */
import type { ContentStore } from '../cache/index.js';
import { createLayerFromOverlayUpper, unpackLayer, writeLayerToStore } from '../snapshot/index.js';
import { CACHE_MOUNT_MEDIA_TYPE, type CacheConfigMount } from './format.js';

export async function storeCacheMount(content: ContentStore, id: string, dir: string): Promise<CacheConfigMount> {
  const stored = await writeLayerToStore(content, createLayerFromOverlayUpper(dir), 'gzip');
  return { id, mediaType: CACHE_MOUNT_MEDIA_TYPE, digest: stored.digest, size: stored.size };
}

export async function restoreCacheMount(content: ContentStore, mount: CacheConfigMount, dir: string): Promise<void> {
  await unpackLayer(content.openRead(mount.digest), dir, { mode: 'merge', compression: 'gzip' });
}
