/**
 * Importing caches (--cache-from): only the manifests and configs are read up front (a few KB);
 * layer blobs are fetched when something needs their bytes — a step that runs on top of an
 * imported result, or an exporter writing the final image. A step whose imported result only
 * feeds other cache hits costs nothing. A source that is missing or unreadable is a warning,
 * never a failed build (as in BuildKit).
 */
import { readdir } from 'node:fs/promises';
import type { ContentStore } from '../cache/index.js';
import type { BuildContext } from '../progress/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { Digest } from '../util/digest.js';
import { parseCacheConfig, parseCacheManifest, recordFromConfig, type BlobDescriptor, type CacheConfigMount, type CacheRecordLike } from './format.js';
import { openCacheLocation, type CacheLocation } from './location.js';
import { restoreCacheMount } from './mounts.js';
import { describeLocation, type CacheImportSpec } from './options.js';

/** What was downloaded for the imported caches, reported in progress and build metadata. */
export interface CacheImportStats {
  /** Sources that were read successfully. */
  sources: string[];
  records: number;
  /** Blobs (layers and cache mounts) downloaded, and all bytes downloaded (manifests and configs included). */
  blobsDownloaded: number;
  bytesDownloaded: number;
  mountsRestored: number;
}

export interface ImportedCache {
  /** The imported record for a key, if any source has one. */
  get(key: Digest): CacheRecordLike | undefined;
  /** Whether a blob can be fetched from an imported source. */
  hasBlob(digest: Digest): boolean;
  /** Fetches the blobs of `layers` the store lacks (each at most once, concurrently). */
  ensureBlobs(ctx: BuildContext, layers: Array<{ blob: Digest; size: number; mediaType: string }>): Promise<void>;
  /** Fills an empty cache mount dir from an imported cache; true when it did. */
  seedMount(ctx: BuildContext, id: string, dir: string): Promise<boolean>;
  stats(): CacheImportStats;
}

export async function importCaches(ctx: BuildContext, specs: CacheImportSpec[], deps: { content: ContentStore; registry: RegistryClient }): Promise<ImportedCache> {
  const records = new Map<Digest, CacheRecordLike>();
  const blobSource = new Map<Digest, { location: CacheLocation; desc: BlobDescriptor }>();
  const mounts = new Map<string, { location: CacheLocation; mount: CacheConfigMount }>();
  const stats: CacheImportStats = { sources: [], records: 0, blobsDownloaded: 0, bytesDownloaded: 0, mountsRestored: 0 };

  for (const spec of specs) {
    const location = openCacheLocation(spec.location, deps.registry);
    try {
      const m = await location.readManifest();
      if (!m) {
        warn(ctx, `cache import: ${describeLocation(spec.location)} not found, building without it`);
        continue;
      }
      stats.bytesDownloaded += m.bytes.length;
      const manifest = parseCacheManifest(m.bytes);
      stats.bytesDownloaded += await location.fetchBlob(manifest.config, deps.content);
      const config = parseCacheConfig(await deps.content.readBytes(manifest.config.digest), manifest);
      // The first source that has a key wins, as with several --cache-from in buildx.
      for (const r of config.records) if (!records.has(r.key)) records.set(r.key, recordFromConfig(config, r));
      for (const l of config.layers) if (!blobSource.has(l.digest)) blobSource.set(l.digest, { location, desc: l });
      for (const mount of config.mounts) {
        if (!mounts.has(mount.id)) mounts.set(mount.id, { location, mount });
        if (!blobSource.has(mount.digest)) blobSource.set(mount.digest, { location, desc: mount });
      }
      stats.sources.push(location.name);
    } catch (err) {
      const code = (err as { code?: string }).code;
      warn(ctx, `cache import: ${describeLocation(spec.location)} could not be read, building without it (${code ?? ''} ${(err as Error).message})`);
    }
  }
  stats.records = records.size;
  if (stats.sources.length) ctx.progress.emit({ type: 'info', time: Date.now(), message: `cache import: ${records.size} records from ${stats.sources.join(', ')}` });

  const inflight = new Map<Digest, Promise<void>>();
  const fetchOne = (digest: Digest): Promise<void> => {
    let p = inflight.get(digest);
    if (!p) {
      p = (async () => {
        if (await deps.content.has(digest)) return;
        const source = blobSource.get(digest);
        if (!source) return; // not ours to fetch: the caller's own read reports the missing blob
        const bytes = await source.location.fetchBlob(source.desc, deps.content);
        if (bytes > 0) {
          stats.blobsDownloaded++;
          stats.bytesDownloaded += bytes;
        }
      })();
      // A failed download may be retried by a later caller.
      p.catch(() => inflight.delete(digest));
      inflight.set(digest, p);
    }
    return p;
  };

  return {
    get: (key) => records.get(key),
    hasBlob: (digest) => blobSource.has(digest),
    async ensureBlobs(c, layers) {
      c.signal.throwIfAborted();
      await Promise.all(layers.map((l) => fetchOne(l.blob)));
    },
    async seedMount(c, id, dir) {
      const entry = mounts.get(id);
      if (!entry) return false;
      if ((await readdir(dir).catch(() => [])).length > 0) return false;
      await fetchOne(entry.mount.digest);
      await restoreCacheMount(deps.content, entry.mount, dir);
      stats.mountsRestored++;
      c.progress.emit({ type: 'info', time: Date.now(), message: `cache import: restored cache mount ${id} (${entry.mount.size} bytes)` });
      return true;
    },
    stats: () => ({ ...stats, sources: [...stats.sources] }),
  };
}

function warn(ctx: BuildContext, message: string): void {
  ctx.progress.emit({ type: 'warning', time: Date.now(), rule: 'CacheImport', message });
}
