/**
 * Turning a layer tar into a stored blob: one pass computes the diff_id (sha256 of the
 * uncompressed tar) while compressing into the content store.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import type { ContentStore } from '../cache/types.js';
import type { Digest } from '../util/digest.js';
import { createParallelGzip } from './parallel-gzip.js';

export type Compression = 'gzip' | 'zstd' | 'uncompressed';

export const LAYER_MEDIA_TYPES: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  uncompressed: 'application/vnd.oci.image.layer.v1.tar',
};

export interface StoredLayer {
  diffId: Digest;
  digest: Digest;
  size: number;
  mediaType: string;
  /** Uncompressed size. */
  diffSize: number;
}

/** `level` is the exporter's compression-level (gzip 0-9, zstd 0-22); unset means gzip 6, zstd 3. */
function compressor(c: Compression, level?: number): Transform | undefined {
  // Deflate spread over the thread pool (parallel-gzip.ts): one gzip member, reproducible bytes.
  if (c === 'gzip') return createParallelGzip(level ?? 6);
  if (c === 'zstd') {
    // zstd's CLI reads -0 as its default level; BuildKit maps 0 to its fastest setting, so do we.
    const lv = level === undefined ? 3 : Math.max(level, 1);
    // Levels above 19 need --ultra, or the CLI silently clamps them to 19.
    const child = spawn('zstd', ['-q', '-c', ...(lv > 19 ? ['--ultra'] : []), `-${lv}`, '--no-check'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const t = new Transform({
      transform(chunk, _e, cb) {
        if (!child.stdin.write(chunk)) child.stdin.once('drain', cb);
        else cb();
      },
      flush(cb) {
        child.stdout.on('end', () => cb());
        child.stdin.end();
      },
    });
    child.stdout.on('data', (d: Buffer) => t.push(d));
    child.on('error', (e) => t.destroy(e));
    return t;
  }
  return undefined;
}

/** A layer being compressed: read `stream`; `done` settles with both digests once it ends. */
export interface CompressingLayer {
  stream: Readable;
  done: Promise<StoredLayer>;
}

/**
 * Compresses an uncompressed layer tar in one pass, hashing both sides: the diff_id (the tar) and
 * the blob digest (the compressed bytes). `none` is accepted as a synonym of `uncompressed`.
 */
export function compressLayer(tar: Readable, compression: Compression | 'none' = 'gzip', level?: number): CompressingLayer {
  const kind: Compression = compression === 'none' ? 'uncompressed' : compression;
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let diffSize = 0;
  let size = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _e, cb) {
      diffHash.update(chunk);
      diffSize += chunk.length;
      cb(null, chunk);
    },
  });
  const count = new Transform({
    transform(chunk: Buffer, _e, cb) {
      blobHash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const c = compressor(kind, level);
  const stages: Array<Readable | Transform> = c ? [tar, tee, c, count] : [tar, tee, count];
  // Errors anywhere upstream surface on the stream the caller reads.
  for (let i = 0; i + 1 < stages.length; i++) stages[i]!.on('error', (e: Error) => count.destroy(e));
  let piped: Readable = tar;
  for (const s of stages.slice(1)) piped = piped.pipe(s as Transform);
  const done = new Promise<StoredLayer>((resolve, reject) => {
    count.on('error', reject);
    count.on('end', () =>
      resolve({ diffId: `sha256:${diffHash.digest('hex')}`, digest: `sha256:${blobHash.digest('hex')}`, size, mediaType: LAYER_MEDIA_TYPES[kind], diffSize }),
    );
  });
  done.catch(() => {});
  return { stream: count, done };
}

/** Compresses a layer tar straight into the content store; returns its diff_id and blob digest. */
export async function writeLayerToStore(store: ContentStore, tar: Readable, compression: Compression | 'none' = 'gzip', level?: number): Promise<StoredLayer> {
  if (compression === 'uncompressed' || compression === 'none') {
    // The blob is the tar: the store's own hash is the diff_id (every layer a build makes comes
    // this way; hashing it three times cost ~10 ms per 8 MB).
    const info = await store.writeStream(tar);
    return { diffId: info.digest, digest: info.digest, size: info.size, mediaType: LAYER_MEDIA_TYPES.uncompressed, diffSize: info.size };
  }
  const layer = compressLayer(tar, compression, level);
  const info = await store.writeStream(layer.stream);
  const r = await layer.done;
  return { ...r, digest: info.digest, size: info.size };
}
