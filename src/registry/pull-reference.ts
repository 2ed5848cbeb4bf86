/**
 * The one call a build makes for a base image: make `reference` (tag or digest) available in
 * the content store for `platform` and say which manifest it is. A digest whose manifest,
 * config and layers are all in the store already needs no registry at all (a pinned base
 * rebuilds offline); a tag is always resolved against the registry, as BuildKit does.
 */
import type { ContentStore } from '../cache/types.js';
import type { Platform } from '../graph/index.js';
import type { BuildContext } from '../progress/index.js';
import type { Digest } from '../util/digest.js';
import type { RegistryClient, RepositoryRef } from './client.js';
import { chooseFromIndex, isIndexMediaType, pullImage, resolveRemoteImage, type ImageManifest } from './pull.js';

export interface PulledReference {
  manifestDigest: Digest;
  /** Bytes fetched from the registry; undefined when the store had everything (no request made). */
  downloaded?: number;
}

export async function pullReference(ctx: BuildContext, client: RegistryClient, store: ContentStore, ref: RepositoryRef, reference: string, platform: Platform): Promise<PulledReference> {
  if (reference.startsWith('sha256:')) {
    const local = await completeInStore(store, reference as Digest, platform, `${ref.registry}/${ref.repository}@${reference}`);
    if (local) return { manifestDigest: local };
  }
  const remote = await resolveRemoteImage(client, ref, reference, platform);
  const downloaded = await pullImage(ctx, client, remote, store);
  return { manifestDigest: remote.manifestDigest, downloaded };
}

/** The platform manifest for `digest` when it and all its blobs are in the store. */
async function completeInStore(store: ContentStore, digest: Digest, platform: Platform, what: string): Promise<Digest | undefined> {
  if (!(await store.has(digest))) return undefined;
  let manifestDigest = digest;
  let doc = await store.readJson<ImageManifest & { manifests?: unknown[] }>(digest);
  if (isIndexMediaType(doc.mediaType) || Array.isArray(doc.manifests)) {
    manifestDigest = chooseFromIndex(await store.readBytes(digest), platform, what);
    if (!(await store.has(manifestDigest))) return undefined;
    doc = await store.readJson(manifestDigest);
  }
  if (!doc.config || !Array.isArray(doc.layers)) return undefined;
  const present = await Promise.all([doc.config, ...doc.layers].map((d) => store.has(d.digest)));
  return present.every(Boolean) ? manifestDigest : undefined;
}
