/**
 * Writing results: OCI layout tarballs, docker-loadable tarballs (OCI layout plus
 * manifest.json, as BuildKit's docker exporter writes), the final filesystem as a directory or
 * a tar, and records in the local image store. Files are written to a temp name and renamed,
 * so a failed export leaves no half file; blobs stream from the store in constant memory.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import type { ContentStore, ImageStore } from '../cache/types.js';
import { TsbuildError } from '../errors/index.js';
import { MediaTypes, jsonBytes } from '../oci/index.js';
import { parseReference, normalizeReference } from '../oci/reference.js';
import type { BuildContext } from '../progress/index.js';
import { createLayerFromOverlayUpper } from '../snapshot/index.js';
import { digestHex, type Digest } from '../util/digest.js';
import type { AssembledImage } from './assemble.js';
import type { ResolvedExporter } from './options.js';
import { padToRecord, writeToSink, type OutputSink } from './output-stream.js';

const run = promisify(execFile);

export interface ExportInput {
  store: ContentStore;
  images: ImageStore;
  image: AssembledImage;
  /** The flattened final filesystem (for local and tar exports). */
  rootfs: () => Promise<string>;
  sourceDateEpoch?: number | undefined;
  /** Where `dest=-` writes (the CLI's stdout); checked by checkStdoutOutputs before the build. */
  stdout?: OutputSink | undefined;
}

/** Writes a file atomically: to a temp name beside it, then rename. */
async function atomicWrite(dest: string, source: AsyncIterable<Uint8Array>): Promise<void> {
  await mkdir(path.dirname(path.resolve(dest)), { recursive: true });
  const tmp = `${dest}.tsbuild-${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(source), createWriteStream(tmp));
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** A tar archive to a file (atomically) or, for `dest=-`, to the caller's stream; padded to whole records. */
async function writeArchive(ctx: BuildContext, dest: string, stdout: OutputSink | undefined, archive: AsyncIterable<Uint8Array>): Promise<void> {
  if (dest !== '-') return atomicWrite(dest, padToRecord(archive));
  if (!stdout) throw new TsbuildError('ERR_TSBUILD_EXPORT_OPTIONS', 'dest=- needs an output stream, and none was given');
  await writeToSink(padToRecord(archive), stdout, ctx.signal);
}

/** An OCI image layout as a tar stream; `dockerManifest` adds manifest.json for docker load. */
export function layoutTar(store: ContentStore, image: AssembledImage, opts: { names: string[]; mtime: Date; dockerManifest: boolean }): AsyncIterable<Uint8Array> {
  const p = pack();
  const header = { mtime: opts.mtime, uid: 0, gid: 0, uname: '', gname: '', mode: 0o644 };
  const add = (name: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => p.entry({ ...header, name }, body, (err) => (err ? reject(err) : resolve())));
  const addBlob = (d: Digest, size: number) =>
    new Promise<void>((resolve, reject) => {
      const entry = p.entry({ ...header, name: `blobs/sha256/${digestHex(d)}`, size }, (err) => (err ? reject(err) : resolve()));
      const rs = createReadStream(store.blobPath(d));
      rs.on('error', reject);
      rs.on('data', (chunk) => {
        if (!entry.write(chunk as Buffer)) {
          rs.pause();
          entry.once('drain', () => rs.resume());
        }
      });
      rs.on('end', () => (entry as unknown as { end(): void }).end());
    });
  (async () => {
    await add('oci-layout', jsonBytes({ imageLayoutVersion: '1.0.0' }));
    for (const dir of ['blobs/', 'blobs/sha256/']) {
      await new Promise<void>((resolve, reject) => p.entry({ ...header, name: dir, type: 'directory', mode: 0o755 }, (err) => (err ? reject(err) : resolve())));
    }
    const seen = new Set<string>();
    for (const l of image.layers) {
      if (seen.has(l.digest)) continue;
      seen.add(l.digest);
      await addBlob(l.digest, l.size);
    }
    await addBlob(image.config.digest, image.config.size);
    await addBlob(image.manifest.digest, image.manifest.size);
    const manifests = (opts.names.length > 0 ? opts.names : [undefined]).map((name) => {
      const annotations: Record<string, string> = {};
      if (name !== undefined) {
        const full = normalizeReference(name);
        annotations['io.containerd.image.name'] = full;
        annotations['org.opencontainers.image.ref.name'] = parseReference(name).tag ?? 'latest';
      }
      return { ...image.manifest, ...(name !== undefined ? { annotations } : {}) };
    });
    await add('index.json', jsonBytes({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
    if (opts.dockerManifest) {
      const repoTags = opts.names.map((n) => {
        const r = parseReference(n);
        const repo = r.registry === 'docker.io' ? r.repository.replace(/^library\//, '') : `${r.registry}/${r.repository}`;
        return `${repo}:${r.tag ?? 'latest'}`;
      });
      await add(
        'manifest.json',
        jsonBytes([{ Config: `blobs/sha256/${digestHex(image.config.digest)}`, RepoTags: repoTags, Layers: image.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`) }]),
      );
    }
    p.finalize();
  })().catch((err: Error) => p.destroy(err));
  return p as unknown as AsyncIterable<Uint8Array>;
}

export async function exportImage(ctx: BuildContext, exporter: ResolvedExporter, input: ExportInput): Promise<void> {
  ctx.signal.throwIfAborted();
  const mtime = new Date((input.sourceDateEpoch ?? 0) * 1000);
  switch (exporter.type) {
    case 'oci':
    case 'docker':
      await writeArchive(ctx, exporter.dest!, input.stdout, layoutTar(input.store, input.image, { names: exporter.names, mtime, dockerManifest: exporter.type === 'docker' }));
      break;
    case 'local': {
      const rootfs = await input.rootfs();
      await mkdir(exporter.dest!, { recursive: true });
      await run('cp', ['-a', `${rootfs}/.`, exporter.dest!]);
      break;
    }
    case 'tar': {
      const rootfs = await input.rootfs();
      await writeArchive(ctx, exporter.dest!, input.stdout, createLayerFromOverlayUpper(rootfs, input.sourceDateEpoch !== undefined ? { sourceDateEpoch: input.sourceDateEpoch } : {}));
      break;
    }
    case 'image': {
      // push=true was handled by the caller (registry/ is the only network code).
      for (const name of exporter.names) {
        await input.images.put({ name: normalizeReference(name), digest: input.image.manifest.digest, mediaType: input.image.manifest.mediaType, updated: new Date().toISOString() });
      }
      break;
    }
  }
}
