/**
 * Where `tsbuild layers` reads an image from: the local image store (by name) or an image
 * tarball (OCI layout, or `docker save` with manifest.json). Tarballs are read as streams in
 * two passes: the first keeps the small JSON documents in memory, the second scans the layer
 * blobs as they go by. Nothing is extracted to disk.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import type { ContentStore, ImageStore } from '../cache/index.js';
import { TsbuildError } from '../errors/index.js';
import { hostPlatform, isIndexType, resolveLocalImage, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci/index.js';
import { isDigest, type Digest } from '../util/digest.js';
import { normalizeEntryPath, scanLayer, type LayerScan } from './layer-scan.js';

/** An image ready for analysis: its config, its layer descriptors and a way to scan them. */
export interface AnalyzableImage {
  configDigest: Digest;
  config: ImageConfig;
  layers: Descriptor[];
  /** Scans every layer (index-aligned with `layers`). */
  scanLayers(): Promise<LayerScan[]>;
}

export async function imageFromStore(content: ContentStore, images: ImageStore, ref: string): Promise<AnalyzableImage> {
  const img = await resolveLocalImage(content, images, ref);
  if (!img) throw new TsbuildError('ERR_TSBUILD_IMAGE_NOT_FOUND', `no such image: ${ref}`);
  return {
    configDigest: img.configDigest,
    config: img.config,
    layers: img.manifest.layers,
    async scanLayers() {
      const out: LayerScan[] = [];
      for (const l of img.manifest.layers) out.push(await scanLayer(content.openRead(l.digest)));
      return out;
    },
  };
}

/** JSON documents and blobs up to this size are kept in memory by the first pass. */
const SMALL = 1 << 20;

async function forEachEntry(file: string, fn: (name: string, size: number, stream: Readable) => Promise<void>): Promise<void> {
  const ex = extract();
  const src = createReadStream(file);
  src.on('error', (e) => ex.destroy(e));
  src.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      if (h.type === 'file' || h.type === 'contiguous-file') await fn(normalizeEntryPath(h.name), h.size, entry as unknown as Readable);
      // Whatever fn left unread must be drained before tar-stream moves on.
      entry.resume();
    }
  } catch (cause) {
    if (cause instanceof TsbuildError) throw cause;
    throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: not a readable image tarball: ${(cause as Error).message}`, { cause });
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const blobPath = (d: Digest) => {
  if (!isDigest(d)) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `invalid digest ${String(d)}`);
  return `blobs/sha256/${d.slice(7)}`;
};

export async function imageFromArchive(file: string): Promise<AnalyzableImage> {
  const small = new Map<string, Buffer>();
  await forEachEntry(file, async (name, size, stream) => {
    if (size <= SMALL) small.set(name, await readAll(stream));
  });
  const json = <T>(name: string): T => {
    const b = small.get(name);
    if (!b) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: missing ${name}`);
    try {
      return JSON.parse(b.toString('utf8')) as T;
    } catch (cause) {
      throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: ${name} is not JSON`, { cause });
    }
  };

  let config: ImageConfig;
  let configDigest: Digest;
  let layers: Descriptor[];
  /** Tar member holding each layer (index-aligned with layers). */
  let members: string[];
  if (small.has('index.json')) {
    let desc: Descriptor | undefined;
    let doc: ImageIndex | ImageManifest = json<ImageIndex>('index.json');
    // Follow indexes down to the manifest for this platform (or the only one).
    for (let depth = 0; 'manifests' in doc && depth < 4; depth++) {
      const p = hostPlatform();
      const ms: Descriptor[] = (doc as ImageIndex).manifests ?? [];
      desc = ms.find((m) => m.platform?.os === p.os && m.platform.architecture === p.architecture) ?? ms.find((m) => !m.platform || isIndexType(m.mediaType)) ?? ms[0];
      if (!desc) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: index lists no manifests`);
      doc = json<ImageIndex | ImageManifest>(blobPath(desc.digest));
    }
    const manifest = doc as ImageManifest;
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: no image manifest found`);
    configDigest = manifest.config.digest;
    config = json<ImageConfig>(blobPath(configDigest));
    layers = manifest.layers;
    members = layers.map((l) => blobPath(l.digest));
  } else if (small.has('manifest.json')) {
    const entries = json<Array<{ Config: string; Layers: string[] }>>('manifest.json');
    const e = entries[0];
    if (!e) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: manifest.json lists no images`);
    const configName = normalizeEntryPath(e.Config);
    config = json<ImageConfig>(configName);
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(configName) ?? /^([0-9a-f]{64})\.json$/.exec(configName);
    configDigest = (m ? `sha256:${m[1]}` : '') as Digest;
    members = e.Layers.map(normalizeEntryPath);
    // Digests and media types of legacy layers are only known after scanning; filled in below.
    layers = members.map(() => ({ mediaType: '', digest: '' as Digest, size: 0 }));
  } else {
    throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: has neither index.json (OCI layout) nor manifest.json (docker save)`);
  }

  return {
    configDigest,
    config,
    layers,
    async scanLayers() {
      const scans = new Map<string, LayerScan>();
      for (const m of new Set(members)) {
        const b = small.get(m);
        if (b) scans.set(m, await scanLayer(Readable.from([b])));
      }
      const wanted = new Set(members.filter((m) => !scans.has(m)));
      if (wanted.size > 0)
        await forEachEntry(file, async (name, _size, stream) => {
          if (wanted.has(name) && !scans.has(name)) scans.set(name, await scanLayer(stream));
        });
      return members.map((m, i) => {
        const s = scans.get(m);
        if (!s) throw new TsbuildError('ERR_TSBUILD_IMAGE_FORMAT', `${file}: layer ${m} is missing`);
        const l = layers[i]!;
        if ((l.digest as string) === '') {
          l.digest = s.blobDigest;
          l.size = s.compressedSize;
          l.mediaType = s.compression === 'gzip' ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : s.compression === 'zstd' ? 'application/vnd.oci.image.layer.v1.tar+zstd' : 'application/vnd.docker.image.rootfs.diff.tar';
        }
        return s;
      });
    },
  };
}
