/**
 * `tsbuild image load`: an OCI image layout tarball or a `docker save` tarball into the store.
 * Every blob is verified against its digest on the way in; layers already stored are kept once.
 * Names come from -t, else RepoTags (docker save) or the io.containerd.image.name /
 * org.opencontainers.image.ref.name annotations (OCI layout).
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ContentStore, ImageStore } from '../cache/types.js';
import { TsbuildError } from '../errors/index.js';
import { isDigest, sha256, type Digest } from '../util/digest.js';
import { normalizeReference } from './reference.js';
import { MediaTypes, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './types.js';

const run = promisify(execFile);

function formatError(file: string, why: string, cause?: unknown): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: ${why}`, cause === undefined ? {} : { cause });
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

async function storeFile(store: ContentStore, file: string, expected?: Digest): Promise<{ digest: Digest; size: number }> {
  return store.writeStream(createReadStream(file), expected ? { digest: expected } : undefined);
}

export async function loadImageArchive(store: ContentStore, images: ImageStore, tarFile: string, options: { tag?: string } = {}): Promise<Array<{ name: string; digest: Digest }>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-load-'));
  try {
    try {
      // GNU tar refuses absolute names and `..` by default; the layout is read-only input here.
      await run('tar', ['-xf', tarFile, '-C', dir, '--no-same-owner']);
    } catch (cause) {
      throw formatError(tarFile, 'not a readable tar archive', cause);
    }
    const has = (p: string) => stat(path.join(dir, p)).then(() => true, () => false);
    if (await has('index.json')) return await loadOciLayout(store, images, dir, tarFile, options.tag);
    if (await has('manifest.json')) return await loadDockerSave(store, images, dir, tarFile, options.tag);
    throw formatError(tarFile, 'has neither index.json (OCI layout) nor manifest.json (docker save)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function blobFile(dir: string, d: Digest): string {
  if (!isDigest(d)) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `invalid digest ${String(d)}`);
  return path.join(dir, 'blobs', 'sha256', d.slice(7));
}

async function copyTree(store: ContentStore, dir: string, desc: Descriptor): Promise<void> {
  await storeFile(store, blobFile(dir, desc.digest), desc.digest);
  if (desc.mediaType === MediaTypes.ociIndex || desc.mediaType === MediaTypes.dockerManifestList) {
    const idx = await store.readJson<ImageIndex>(desc.digest);
    for (const m of idx.manifests) await copyTree(store, dir, m);
  } else if (desc.mediaType === MediaTypes.ociManifest || desc.mediaType === MediaTypes.dockerManifest) {
    const m = await store.readJson<ImageManifest>(desc.digest);
    await storeFile(store, blobFile(dir, m.config.digest), m.config.digest);
    for (const l of m.layers) await storeFile(store, blobFile(dir, l.digest), l.digest);
  }
}

async function loadOciLayout(store: ContentStore, images: ImageStore, dir: string, file: string, tag?: string) {
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as ImageIndex;
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) throw formatError(file, 'index.json lists no manifests');
  const out: Array<{ name: string; digest: Digest }> = [];
  for (const desc of index.manifests) {
    await copyTree(store, dir, desc);
    const a = desc.annotations ?? {};
    const named = tag ?? a['io.containerd.image.name'] ?? (a['org.opencontainers.image.ref.name']?.includes('/') || a['org.opencontainers.image.ref.name']?.includes(':') ? a['org.opencontainers.image.ref.name'] : undefined);
    if (!named) continue;
    const name = normalizeReference(named);
    await images.put({ name, digest: desc.digest, mediaType: desc.mediaType, updated: new Date().toISOString() });
    out.push({ name, digest: desc.digest });
  }
  if (out.length === 0) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: no image name in the layout; pass -t NAME`);
  return out;
}

async function loadDockerSave(store: ContentStore, images: ImageStore, dir: string, file: string, tag?: string) {
  const entries = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>;
  const out: Array<{ name: string; digest: Digest }> = [];
  for (const e of entries) {
    const configPath = path.join(dir, path.normalize(`/${e.Config}`));
    const configBytes = await readFile(configPath).catch((c) => {
      throw formatError(file, `missing config ${e.Config}`, c);
    });
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const layers: Descriptor[] = [];
    for (const [i, l] of e.Layers.entries()) {
      const p = path.join(dir, path.normalize(`/${l}`));
      const gz = await isGzip(p);
      const stored = await storeFile(store, p);
      // Legacy docker-save layers are uncompressed: their digest is the diff_id.
      if (!gz && config.rootfs.diff_ids[i] !== stored.digest) throw formatError(file, `layer ${l} does not match diff_id ${config.rootfs.diff_ids[i]}`);
      layers.push({ mediaType: gz ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer, digest: stored.digest, size: stored.size });
    }
    // Keep the original config bytes: the image ID (config digest) must not change.
    const c = await store.writeBytes(configBytes, { digest: sha256(configBytes) });
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: c.digest, size: c.size }, layers };
    const m = await store.writeBytes(Buffer.from(JSON.stringify(manifest)));
    const names = tag ? [tag] : (e.RepoTags ?? []);
    if (names.length === 0) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: image has no RepoTags; pass -t NAME`);
    for (const n of names) {
      const name = normalizeReference(n);
      await images.put({ name, digest: m.digest, mediaType: MediaTypes.ociManifest, updated: new Date().toISOString() });
      out.push({ name, digest: m.digest });
    }
  }
  return out;
}
