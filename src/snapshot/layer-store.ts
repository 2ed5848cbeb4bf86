/**
 * Turning a layer tar into a stored blob: one pass computes the diff_id (sha256 of the
 * uncompressed tar) while compressing into the content store.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { spawn } from 'node:child_process';
import type { ContentStore } from '../cache/types.js';
import type { Digest } from '../util/digest.js';

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

function compressor(c: Compression): Transform | undefined {
  if (c === 'gzip') return createGzip({ level: 6 });
  if (c === 'zstd') {
    const child = spawn('zstd', ['-q', '-c', '-3', '--no-check'], { stdio: ['pipe', 'pipe', 'ignore'] });
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

export async function writeLayerToStore(store: ContentStore, tar: Readable, compression: Compression = 'gzip'): Promise<StoredLayer> {
  const hash = createHash('sha256');
  let diffSize = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      diffSize += chunk.length;
      cb(null, chunk);
    },
  });
  tar.on('error', (e) => tee.destroy(e));
  const c = compressor(compression);
  const stream = c ? tar.pipe(tee).pipe(c) : tar.pipe(tee);
  if (c) tee.on('error', (e) => c.destroy(e));
  const info = await store.writeStream(stream);
  return { diffId: `sha256:${hash.digest('hex')}`, digest: info.digest, size: info.size, mediaType: LAYER_MEDIA_TYPES[compression], diffSize };
}
