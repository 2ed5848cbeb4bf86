/**
 * Pushing: every blob is checked with HEAD first (the registry may already have it), mounted
 * from another repository of the same registry when we know one that has it, else uploaded:
 * monolithically for small blobs, in chunks for large ones. Blobs stream from the store's
 * files, so memory stays constant whatever the layer size. The manifest goes last.
 */
import { createReadStream } from 'node:fs';
import type { ContentStore } from '../cache/types.js';
import { RegistryError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import type { Digest } from '../util/digest.js';
import type { RegistryClient, RepositoryRef } from './client.js';

export interface PushOptions {
  /** Blobs above this size are uploaded in chunks of `chunkSize`. */
  chunkThreshold?: number;
  chunkSize?: number;
  /** Repositories on the same registry that may hold our blobs (cross-repository mount). */
  mountFrom?: string[];
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

export async function pushBlob(
  ctx: BuildContext,
  client: RegistryClient,
  ref: RepositoryRef,
  store: ContentStore,
  desc: { digest: Digest; size: number },
  options: PushOptions = {},
  stats: PushStats = { uploaded: 0, skipped: 0, mounted: 0, bytes: 0 },
): Promise<void> {
  if (await blobExists(client, ref, desc.digest)) {
    stats.skipped++;
    return;
  }
  for (const from of options.mountFrom ?? []) {
    if (from === ref.repository) continue;
    const res = await client.request(ref, `/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`, {
      method: 'POST',
      actions: 'push,pull',
      extraScopes: [`repository:${from}:pull`],
      ok: [202],
    });
    await res.body?.cancel();
    if (res.status === 201) {
      stats.mounted++;
      return;
    }
  }
  const threshold = options.chunkThreshold ?? 32 * 1024 * 1024;
  const chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
  const file = store.blobPath(desc.digest);
  // A failed upload restarts from a fresh session: the registry discards incomplete uploads.
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    ctx.signal.throwIfAborted();
    try {
      const start = await client.request(ref, '/blobs/uploads/', { method: 'POST', actions: 'push,pull', headers: { 'content-length': '0' } });
      await start.body?.cancel();
      let location = resolveLocation(client, ref, start.headers.get('location'));
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
      return;
    } catch (err) {
      lastError = err;
      if (err instanceof RegistryError && err.status !== undefined && err.status < 500 && err.status !== 429) throw err;
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
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

/** Pushes an assembled image: every layer and the config (skipping what the registry has), then the manifest under each tag. */
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
  for (const blob of [...image.layers, image.config]) await pushBlob(ctx, client, ref, store, blob, options, stats);
  const manifest = await store.readBytes(image.manifest.digest);
  for (const tag of tags) await putManifest(client, ref, tag, image.manifest.mediaType, manifest);
  return stats;
}
