/**
 * Exporting the cache (--cache-to): the chosen records' layer blobs, optionally the cache
 * mount tarballs, then the config and the manifest under the tag. Blobs the destination has
 * are skipped; a blob this machine only knows from an imported cache is fetched first.
 */
import type { ContentStore } from '../cache/index.js';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import type { RegistryClient } from '../registry/index.js';
import pLimit from 'p-limit';
import { sha256 } from '../util/digest.js';
import { buildCacheConfig, buildCacheManifest, CACHE_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, type BlobDescriptor, type CacheConfigMount, type CacheRecordLike } from './format.js';
import { openCacheLocation } from './location.js';
import { storeCacheMount } from './mounts.js';
import { describeLocation, type CacheExportSpec } from './options.js';

export interface CacheExportStats {
  destination: string;
  mode: 'min' | 'max';
  records: number;
  mounts: number;
  /** Blobs and bytes actually written (the destination lacked them). */
  blobsUploaded: number;
  bytesUploaded: number;
  manifestDigest: string;
}

export interface CacheExportInput {
  records: CacheRecordLike[];
  /** Cache mounts to include (only when the spec opts in): id, host dir, and the lock that keeps RUN steps out while it is read. */
  mounts: Array<{ id: string; dir: string; hold?: () => Promise<() => Promise<void>> }>;
  content: ContentStore;
  registry: RegistryClient;
  /** Brings a blob into the store when only an imported cache has it. */
  ensureBlob?(ctx: BuildContext, desc: BlobDescriptor): Promise<void>;
}

export async function exportCache(ctx: BuildContext, spec: CacheExportSpec, input: CacheExportInput): Promise<CacheExportStats> {
  const location = openCacheLocation(spec.location, input.registry);
  const { content } = input;
  const mounts: CacheConfigMount[] = [];
  for (const m of spec.cacheMounts ? input.mounts : []) {
    const release = await m.hold?.();
    try {
      mounts.push(await storeCacheMount(content, m.id, m.dir));
    } finally {
      await release?.();
    }
  }
  const config = buildCacheConfig(input.records, mounts);
  const configBytes = Buffer.from(JSON.stringify(config));
  const configInfo = await content.writeBytes(configBytes);
  const configDesc: BlobDescriptor = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: configInfo.digest, size: configInfo.size };
  const manifest = buildCacheManifest(config, configDesc);
  const stats: CacheExportStats = { destination: location.name, mode: spec.mode, records: config.records.length, mounts: mounts.length, blobsUploaded: 0, bytesUploaded: 0, manifestDigest: '' };

  const limit = pLimit(4);
  await Promise.all(
    [...manifest.layers, configDesc].map((desc) =>
      limit(async () => {
        ctx.signal.throwIfAborted();
        if (!(await content.has(desc.digest))) {
          if (await location.hasBlob(desc)) return;
          await input.ensureBlob?.(ctx, desc);
          if (!(await content.has(desc.digest))) {
            throw new TsbuildError('ERR_TSBUILD_CACHE_EXPORT', `cache export to ${describeLocation(spec.location)}: blob ${desc.digest} is not in the store`);
          }
        }
        const bytes = await location.putBlob(ctx, desc, content);
        if (bytes > 0) {
          stats.blobsUploaded++;
          stats.bytesUploaded += bytes;
        }
      }),
    ),
  );
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  await location.putManifest(manifestBytes, OCI_MANIFEST_MEDIA_TYPE);
  stats.manifestDigest = sha256(manifestBytes);
  return stats;
}
