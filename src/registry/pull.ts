/**
 * Pulling: resolve a reference to the manifest for one platform (walking indexes and Docker
 * manifest lists), then stream the config and layers into the content store, verified against
 * their digests, several at a time. Layers already in the store are not fetched again.
 */
import pLimit from 'p-limit';
import type { ContentStore } from '../cache/types.js';
import { RegistryError, TsbuildError } from '../errors/index.js';
import type { Platform } from '../graph/index.js';
import type { BuildContext } from '../progress/index.js';
import { sha256, type Digest } from '../util/digest.js';
import { formatPlatform, selectPlatform } from './platform.js';
import { createBlobSources } from './sources.js';
import { retryDelay, sleep, throwIfCancelled, type RegistryClient, type RepositoryRef } from './client.js';
import { networkReason } from '../util/http-transport.js';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface RemoteImage {
  ref: RepositoryRef;
  manifestDigest: Digest;
  manifestMediaType: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  /** Digest and bytes of the index the manifest was chosen from, when there was one. */
  indexDigest?: Digest;
  indexBytes?: Buffer;
}

/** Fetches a manifest by tag or digest; verifies it when asked by digest. */
export async function fetchManifest(client: RegistryClient, ref: RepositoryRef, reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
  const res = await client.request(ref, `/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
  const bytes = Buffer.from(await res.arrayBuffer());
  const digest = sha256(bytes);
  // By tag there is nothing to check against but the digest the registry claims for it.
  const claimed = res.headers.get('docker-content-digest');
  if ((reference.startsWith('sha256:') && digest !== reference) || (claimed?.startsWith('sha256:') && claimed !== digest)) {
    throw new RegistryError('ERR_TSBUILD_STORE_DIGEST_MISMATCH', `manifest ${reference} of ${ref.registry}/${ref.repository} does not match its digest`, { url: `${ref.registry}/${ref.repository}` });
  }
  const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string };
  const mediaType = parsed.mediaType ?? res.headers.get('content-type')?.split(';')[0] ?? 'application/vnd.oci.image.manifest.v1+json';
  return { bytes, mediaType, digest };
}

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.has(mediaType);
}

/** The manifest digest an index or manifest list has for `platform` (ERR_TSBUILD_REGISTRY_NO_PLATFORM when none). */
export function chooseFromIndex(bytes: Buffer, platform: Platform, what: string): Digest {
  const index = JSON.parse(bytes.toString('utf8')) as { manifests: Descriptor[] };
  const chosen = index.manifests[selectPlatform(index.manifests.map((d) => d.platform), platform)];
  if (!chosen) {
    const have = index.manifests.map((d) => formatPlatform(d.platform)).join(', ');
    throw new TsbuildError('ERR_TSBUILD_REGISTRY_NO_PLATFORM', `${what} has no image for ${formatPlatform(platform)} (has: ${have})`);
  }
  return chosen.digest;
}

/** Resolves `reference` (tag or digest) to the single-platform manifest for `platform`. */
export async function resolveRemoteImage(client: RegistryClient, ref: RepositoryRef, reference: string, platform: Platform): Promise<RemoteImage> {
  let m = await fetchManifest(client, ref, reference);
  let index: { digest: Digest; bytes: Buffer } | undefined;
  if (INDEX_TYPES.has(m.mediaType)) {
    const chosen = chooseFromIndex(m.bytes, platform, `${ref.registry}/${ref.repository}:${reference}`);
    index = { digest: m.digest, bytes: m.bytes };
    m = await fetchManifest(client, ref, chosen);
  }
  const manifest = JSON.parse(m.bytes.toString('utf8')) as ImageManifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${ref.registry}/${ref.repository}:${reference}: unsupported manifest type ${m.mediaType}`);
  }
  return { ref, manifestDigest: m.digest, manifestMediaType: m.mediaType, manifest, manifestBytes: m.bytes, ...(index ? { indexDigest: index.digest, indexBytes: index.bytes } : {}) };
}

/** Thrown inside a download when the registry answers a Range request with the whole blob. */
class RangeIgnored extends Error {}

/**
 * Streams one blob into the store, which verifies digest and size before committing: a broken
 * download leaves nothing behind. A body that breaks off mid-way is resumed with a Range
 * request (containerd does the same) when the registry honours it with a 206, so a dropped
 * connection costs only the missing bytes; the store still hashes the whole spliced stream.
 * A registry that ignores Range, or bytes that do not verify, restart the blob from byte 0.
 * Failures of the requests themselves (5xx, 429, refused) were already retried by the client.
 */
export async function fetchBlob(
  client: RegistryClient,
  ref: RepositoryRef,
  desc: { digest: Digest; size: number },
  store: ContentStore,
  options: { attempts?: number; backoffMs?: number } = {},
): Promise<number> {
  if (await store.has(desc.digest)) return 0;
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 200;
  let breaks = 0;
  let lastError: unknown;
  const body = async function* (): AsyncGenerator<Uint8Array> {
    let received = 0;
    for (;;) {
      const res = await client.request(ref, `/blobs/${desc.digest}`, received > 0 ? { headers: { range: `bytes=${received}-` } } : {});
      if (received > 0 && res.status !== 206) {
        await res.body?.cancel();
        throw new RangeIgnored();
      }
      if (!res.body) throw new Error('empty response body');
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          received += chunk.length;
          yield chunk;
        }
        return;
      } catch (err) {
        throwIfCancelled(client.signal);
        lastError = err;
        if (++breaks >= attempts) throw err;
        await sleep(retryDelay(err, breaks, backoffMs), client.signal);
        if (received >= desc.size) return;
      }
    }
  };
  for (;;) {
    try {
      await store.writeStream(body(), { digest: desc.digest, size: desc.size });
      return desc.size;
    } catch (err) {
      if (err instanceof TsbuildError && err.code !== 'ERR_TSBUILD_STORE_DIGEST_MISMATCH') throw err;
      if (!(err instanceof RangeIgnored)) lastError = err;
      if (breaks >= attempts || ++breaks >= attempts) break;
      await sleep(retryDelay(err, breaks, backoffMs), client.signal);
    }
  }
  if (lastError instanceof TsbuildError) throw lastError;
  throw new RegistryError(
    'ERR_TSBUILD_REGISTRY_HTTP',
    `blob ${desc.digest} of ${ref.registry}/${ref.repository}: download broke off ${attempts} times (${networkReason(lastError)})`,
    { url: `${ref.registry}/${ref.repository}` },
    { cause: lastError },
  );
}

/** Downloads in flight in this process, so two images sharing a layer fetch it once. */
const inflight = new Map<string, Promise<number>>();

function fetchBlobOnce(client: RegistryClient, ref: RepositoryRef, desc: { digest: Digest; size: number }, store: ContentStore): Promise<number> {
  const key = `${store.root}|${desc.digest}`;
  const running = inflight.get(key);
  if (running) return running.then(() => 0);
  const p = fetchBlob(client, ref, desc, store).finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

/** Pulls manifest, config and layers into the store; returns bytes actually downloaded. */
export async function pullImage(ctx: BuildContext, client: RegistryClient, image: RemoteImage, store: ContentStore, options: { concurrency?: number; layers?: boolean } = {}): Promise<number> {
  const limit = pLimit(options.concurrency ?? 4);
  const sources = createBlobSources(store.root);
  // The index too: a later build pinned to its digest then resolves without the registry.
  if (image.indexDigest && image.indexBytes) await store.writeBytes(image.indexBytes, { digest: image.indexDigest });
  await store.writeBytes(image.manifestBytes, { digest: image.manifestDigest });
  const blobs = [image.manifest.config, ...(options.layers === false ? [] : image.manifest.layers)];
  const sizes = await Promise.all(
    blobs.map((d) =>
      limit(async () => {
        ctx.signal.throwIfAborted();
        const bytes = await fetchBlobOnce(client, image.ref, d, store);
        // Where the blob came from lets a later push to this registry mount it (sources.ts).
        await sources.add(d.digest, image.ref).catch(() => {});
        return bytes;
      }),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}
