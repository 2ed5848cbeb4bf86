/**
 * Local images: resolving a name to its manifest and config for a platform, and `image import`
 * (a root filesystem tarball becomes a one-layer image, like `docker import`).
 */
import { createReadStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import os from 'node:os';
import type { ContentStore, ImageRecord, ImageStore } from '../cache/types.js';
import { normalizeReference } from './reference.js';
import { TsbuildError } from '../errors/index.js';
import type { Digest } from '../util/digest.js';
import { jsonBytes } from './json.js';
import { isIndexType, MediaTypes, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './types.js';

export interface LocalImage {
  name: string;
  manifestDigest: Digest;
  manifest: ImageManifest;
  config: ImageConfig;
  configDigest: Digest;
}

/** An image's layers: each manifest blob with its config diff_id (which must pair up one to one). */
export function imageLayers(img: LocalImage): Array<{ diffId: Digest; blob: Digest; mediaType: string; size: number }> {
  const diffIds = img.config.rootfs.diff_ids;
  if (diffIds.length !== img.manifest.layers.length) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `image ${img.name}: ${diffIds.length} diff_ids for ${img.manifest.layers.length} layers`);
  return img.manifest.layers.map((l, i) => ({ diffId: diffIds[i]!, blob: l.digest, mediaType: l.mediaType, size: l.size }));
}

export function hostPlatform(): { os: string; architecture: string } {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  return { os: 'linux', architecture: map[os.arch()] ?? os.arch() };
}

/** Reads a manifest (choosing the platform from an index) and its config. */
export async function readImage(store: ContentStore, name: string, digest: Digest, platform = hostPlatform()): Promise<LocalImage> {
  let manifestDigest = digest;
  let doc = await store.readJson<ImageManifest | ImageIndex>(digest);
  if (isIndexType(doc.mediaType) || 'manifests' in doc) {
    const idx = doc as ImageIndex;
    const chosen = idx.manifests.find((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture) ?? (idx.manifests.length === 1 ? idx.manifests[0] : undefined);
    if (!chosen) throw new TsbuildError('ERR_TSBUILD_REGISTRY_NO_PLATFORM', `image ${name} has no manifest for ${platform.os}/${platform.architecture}`);
    manifestDigest = chosen.digest;
    doc = await store.readJson<ImageManifest>(chosen.digest);
  }
  const manifest = doc as ImageManifest;
  const config = await store.readJson<ImageConfig>(manifest.config.digest);
  return { name, manifestDigest, manifest, config, configDigest: manifest.config.digest };
}

/**
 * A local image by reference (`busybox` finds docker.io/library/busybox:latest); an index is
 * resolved to the manifest for `platform` (default: the host's). Undefined when no record exists.
 */
export async function resolveLocalImage(store: ContentStore, images: ImageStore, ref: string, platform = hostPlatform()): Promise<(LocalImage & { record: ImageRecord }) | undefined> {
  const name = normalizeReference(ref);
  const record = await images.get(name);
  if (!record) return undefined;
  return { ...(await readImage(store, name, record.digest, platform)), record };
}

/** Stores a manifest and config for the given layers; returns the manifest descriptor. */
export async function storeImage(store: ContentStore, config: ImageConfig, layers: Descriptor[]): Promise<{ manifest: Descriptor; config: Descriptor }> {
  const configBytes = jsonBytes(config);
  const c = await store.writeBytes(configBytes);
  const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: c.digest, size: c.size };
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers };
  const m = await store.writeBytes(jsonBytes(manifest));
  return { manifest: { mediaType: MediaTypes.ociManifest, digest: m.digest, size: m.size }, config: configDesc };
}

/** `tsbuild image import ROOTFS.tar NAME`: the tarball becomes one gzip layer of a new image. */
export async function importRootfs(store: ContentStore, images: ImageStore, tarFile: string, name: string, options: { created?: Date } = {}): Promise<{ manifest: Descriptor }> {
  const diff = createHash('sha256');
  const tee = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      diff.update(chunk);
      cb(null, chunk);
    },
  });
  // mtime 0 in the gzip header keeps the blob reproducible.
  const gz = createGzip({ level: 6 });
  // pipeline() forwards a read error (a missing file) to gz, so writeStream's iteration rejects
  // instead of an unhandled 'error' event crashing the process.
  pipeline(createReadStream(tarFile), tee, gz, () => {});
  const layer = await store.writeStream(gz).catch((cause) => {
    throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `cannot read ${tarFile}`, { cause });
  });
  const diffId = `sha256:${diff.digest('hex')}` as Digest;
  const p = hostPlatform();
  const created = (options.created ?? new Date()).toISOString();
  const config: ImageConfig = {
    architecture: p.architecture,
    os: p.os,
    created,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: `tsbuild image import ${name}`, comment: 'Imported from tarball' }],
  };
  const stored = await storeImage(store, config, [{ mediaType: MediaTypes.ociLayerGzip, digest: layer.digest, size: layer.size }]);
  await images.put({ name, digest: stored.manifest.digest, mediaType: MediaTypes.ociManifest, updated: created });
  return { manifest: stored.manifest };
}
