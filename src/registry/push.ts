/**
 * Pushing: every blob is checked with HEAD first (the registry may already have it), mounted
 * from another repository of the same registry when we know one that has it, else uploaded:
 * monolithically for small blobs, in chunks for large ones. Blobs stream from the store's
 * files, so memory stays constant whatever the layer size. The manifest goes last.
 */
import { createReadStream } from 'node:fs';
import pLimit from 'p-limit';
import type { ContentStore } from '../cache/types.js';
import { RegistryError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import type { Digest } from '../util/digest.js';
import { retryDelay, sleep, type RegistryClient, type RepositoryRef } from './client.js';
import { createBlobSources, type BlobSources } from './sources.js';

export interface PushOptions {
  /** Blobs above this size are uploaded in chunks of `chunkSize`. */
  chunkThreshold?: number;
  chunkSize?: number;
  /** Repositories on the same registry that may hold our blobs (cross-repository mount). */
  mountFrom?: string[];
  /** Where blobs were seen before (default: the store's state root records). */
  blobSources?: BlobSources;
  /** Blobs uploaded at once (default 3). */
  concurrency?: number;
  /** Upload attempts per blob and the base backoff between them. */
  attempts?: number;
  backoffMs?: number;
}

export interface PushStats {
  uploaded: number;
  skipped: number;
  mounted: number;
  bytes: number;
}

function resolveLocation(client: RegistryClient, ref: RepositoryRef, location: string | null): URL {
  if (!location) throw new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', 'upload started without a Location header', { url: `${ref.registry}/${ref.repository}` });
  return new URL(location, client.baseUrl(ref.registry));
}

export async function blobExists(client: RegistryClient, ref: RepositoryRef, digest: Digest): Promise<boolean> {
  const res = await client.request(ref, `/blobs/${digest}`, { method: 'HEAD', actions: 'push,pull', ok: [404] });
  return res.status === 200;
}

/**
 * Opens an upload session, first asking the registry to mount the blob from each candidate
 * repository (201: done, nothing to upload). A refused mount answers 202 with a fresh session,
 * which the last candidate's attempt keeps for the upload; earlier ones are cancelled.
 */
async function startUpload(client: RegistryClient, ref: RepositoryRef, digest: Digest, mountFrom: string[]): Promise<{ mounted: true } | { mounted: false; location: URL; minChunk: number }> {
  const candidates = mountFrom.filter((from, i) => from !== ref.repository && mountFrom.indexOf(from) === i);
  for (const [i, from] of candidates.entries()) {
    let res: Response;
    try {
      res = await client.request(ref, `/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
        method: 'POST',
        actions: 'push,pull',
        extraScopes: [`repository:${from}:pull`],
        headers: { 'content-length': '0' },
        ok: [202],
      });
    } catch (err) {
      // No pull access to the source (some token services refuse the whole request then), or
      // no mount support: a mount is only an optimisation, so upload instead.
      if (err instanceof RegistryError && (err.code === 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED' || err.code === 'ERR_TSBUILD_REGISTRY_NOT_FOUND')) break;
      throw err;
    }
    await res.body?.cancel();
    if (res.status === 201) return { mounted: true };
    const location = resolveLocation(client, ref, res.headers.get('location'));
    if (i === candidates.length - 1) return { mounted: false, location, minChunk: minChunkOf(res) };
    const cancel = await client.request(ref, location.toString(), { method: 'DELETE', actions: 'push,pull', ok: [404, 405], retry: false }).catch(() => undefined);
    await cancel?.body?.cancel();
  }
  const start = await client.request(ref, '/blobs/uploads/', { method: 'POST', actions: 'push,pull', headers: { 'content-length': '0' } });
  await start.body?.cancel();
  return { mounted: false, location: resolveLocation(client, ref, start.headers.get('location')), minChunk: minChunkOf(start) };
}

/** The OCI-Chunk-Min-Length a registry announces when an upload starts (0 when none). */
function minChunkOf(res: Response): number {
  const n = Number(res.headers.get('oci-chunk-min-length'));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

export async function pushBlob(
  ctx: BuildContext,
  client: RegistryClient,
  ref: RepositoryRef,
  store: ContentStore,
  desc: { digest: Digest; size: number },
  options: PushOptions = {},
  stats: PushStats = { uploaded: 0, skipped: 0, mounted: 0, bytes: 0 },
): Promise<void> {
  const sources = options.blobSources ?? createBlobSources(store.root);
  // Remember where the blob now is, for mounts by later pushes (a hint: failures don't matter).
  const remember = (): Promise<void> => sources.add(desc.digest, ref).catch(() => {});
  if (await blobExists(client, ref, desc.digest)) {
    stats.skipped++;
    await remember();
    return;
  }
  // Mount candidates: the caller's (base image, names pushed before), then repositories of this
  // registry the blob was pulled from or pushed to in earlier builds; a few at most, since
  // each refused mount costs a round trip.
  const seen = (await sources.get(desc.digest)).filter((s) => s.registry === ref.registry).map((s) => s.repository);
  const mountFrom = [...new Set([...(options.mountFrom ?? []), ...seen])].filter((r) => r !== ref.repository).slice(0, 3);
  const threshold = options.chunkThreshold ?? 32 * 1024 * 1024;
  const file = store.blobPath(desc.digest);
  const attempts = options.attempts ?? 5;
  // A failed upload (5xx, 429, a connection dropped mid-body) restarts from a fresh session:
  // the registry discards incomplete uploads, and a replayed PATCH could append twice.
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    ctx.signal.throwIfAborted();
    if (attempt > 0) await sleep(retryDelay(lastError, attempt, options.backoffMs ?? 200), ctx.signal);
    try {
      const session = await startUpload(client, ref, desc.digest, mountFrom);
      if (session.mounted) {
        stats.mounted++;
        await remember();
        return;
      }
      let location = session.location;
      // A registry may require bigger chunks (OCI-Chunk-Min-Length); only the last may be smaller.
      const chunkSize = Math.max(options.chunkSize ?? 16 * 1024 * 1024, session.minChunk);
      if (desc.size <= threshold) {
        location.searchParams.set('digest', desc.digest);
        const res = await client.request(ref, location.toString(), {
          method: 'PUT',
          actions: 'push,pull',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
          body: () => createReadStream(file),
          retry: false,
        });
        await res.body?.cancel();
      } else {
        for (let offset = 0; offset < desc.size; offset += chunkSize) {
          ctx.signal.throwIfAborted();
          const end = Math.min(desc.size, offset + chunkSize) - 1;
          const res = await client.request(ref, location.toString(), {
            method: 'PATCH',
            actions: 'push,pull',
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - offset + 1), 'content-range': `${offset}-${end}` },
            body: () => createReadStream(file, { start: offset, end }),
            retry: false,
          });
          await res.body?.cancel();
          location = resolveLocation(client, ref, res.headers.get('location'));
        }
        location.searchParams.set('digest', desc.digest);
        const res = await client.request(ref, location.toString(), { method: 'PUT', actions: 'push,pull', headers: { 'content-length': '0' }, retry: false });
        await res.body?.cancel();
      }
      stats.uploaded++;
      stats.bytes += desc.size;
      await remember();
      return;
    } catch (err) {
      lastError = err;
      if (err instanceof RegistryError && err.status !== undefined && err.status < 500 && err.status !== 429) throw err;
      if (!(err instanceof RegistryError)) throw err;
    }
  }
  throw lastError;
}

export async function putManifest(client: RegistryClient, ref: RepositoryRef, reference: string, mediaType: string, bytes: Buffer): Promise<void> {
  const res = await client.request(ref, `/manifests/${reference}`, {
    method: 'PUT',
    actions: 'push,pull',
    headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    body: bytes,
  });
  await res.body?.cancel();
}

/** Pushes an assembled image: layers and config (a few at a time, skipping what the registry has), then the manifest under each tag. */
export async function pushImage(
  ctx: BuildContext,
  client: RegistryClient,
  ref: RepositoryRef,
  tags: string[],
  store: ContentStore,
  image: { layers: Array<{ digest: Digest; size: number }>; config: { digest: Digest; size: number }; manifest: { digest: Digest; mediaType: string } },
  options: PushOptions = {},
): Promise<PushStats> {
  const stats: PushStats = { uploaded: 0, skipped: 0, mounted: 0, bytes: 0 };
  const limit = pLimit(options.concurrency ?? 3);
  await Promise.all([...image.layers, image.config].map((blob) => limit(() => pushBlob(ctx, client, ref, store, blob, options, stats))));
  const manifest = await store.readBytes(image.manifest.digest);
  for (const tag of tags) await putManifest(client, ref, tag, image.manifest.mediaType, manifest);
  return stats;
}

export interface PushTarget {
  /** The name as the user wrote it (for messages). */
  name: string;
  registry: string;
  repository: string;
  tag?: string;
}

/**
 * Pushes one image to several names. Blobs a repository of the same registry is known to hold
 * (the base image's, or a name pushed just before) are mounted instead of uploaded again.
 */
export async function pushToNames(
  ctx: BuildContext,
  client: RegistryClient,
  targets: PushTarget[],
  store: ContentStore,
  image: Parameters<typeof pushImage>[5],
  options: PushOptions & { sources?: RepositoryRef[] } = {},
): Promise<Array<{ name: string; stats: PushStats }>> {
  const { sources, ...pushOptions } = options;
  const known: RepositoryRef[] = [...(sources ?? [])];
  const out: Array<{ name: string; stats: PushStats }> = [];
  for (const t of targets) {
    const ref = { registry: t.registry, repository: t.repository };
    const mountFrom = known.filter((k) => k.registry === t.registry).map((k) => k.repository).reverse();
    const stats = await pushImage(ctx, client, ref, [t.tag ?? 'latest'], store, image, { ...pushOptions, mountFrom: [...(options.mountFrom ?? []), ...mountFrom] });
    known.push(ref);
    out.push({ name: t.name, stats });
  }
  return out;
}
