/**
 * Reads one layer blob as a stream (gzip, zstd or plain tar) and lists its entries, never
 * writing anything to disk: names, kinds and sizes are all the layer analysis needs.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { TsbuildError } from '../errors/index.js';
import { decompressLayer } from '../snapshot/index.js';
import type { Digest } from '../util/digest.js';

export type ScanEntryKind = 'file' | 'dir' | 'symlink' | 'link' | 'other';

/** One tar entry: `path` is relative without `./` (whiteout names kept as they are). */
export interface ScanEntry {
  path: string;
  kind: ScanEntryKind;
  /** Content bytes (0 for everything but regular files). */
  size: number;
}

export interface LayerScan {
  /** Digest of the uncompressed tar. */
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  /** Bytes of the blob as stored (compressed). */
  compressedSize: number;
  /** Digest of the blob as stored. */
  blobDigest: Digest;
  /** Compression sniffed from the blob's first bytes. */
  compression: 'gzip' | 'zstd' | 'none';
  entries: ScanEntry[];
}

function kindOf(type: string | null | undefined): ScanEntryKind {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'link';
    default:
      return 'other';
  }
}

/** Entry names as layers write them (`./usr/bin/`, `usr/bin`) normalised to `usr/bin`. */
export function normalizeEntryPath(name: string): string {
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

function counter(onChunk: (b: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      onChunk(chunk);
      cb(null, chunk);
    },
  });
}

export async function scanLayer(source: AsyncIterable<Uint8Array>): Promise<LayerScan> {
  const blobHash = createHash('sha256');
  const diffHash = createHash('sha256');
  let compressedSize = 0;
  let uncompressedSize = 0;
  let compression: LayerScan['compression'] = 'none';
  const entries: ScanEntry[] = [];
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const p = normalizeEntryPath(h.name);
    if (p !== '') entries.push({ path: p, kind: kindOf(h.type), size: kindOf(h.type) === 'file' ? h.size : 0 });
    stream.on('end', () => next());
    stream.resume();
  });
  const raw = (async function* () {
    for await (const chunk of source) {
      const b = Buffer.from(chunk);
      if (compressedSize === 0) compression = b[0] === 0x1f && b[1] === 0x8b ? 'gzip' : b.length >= 4 && b.readUInt32BE(0) === 0x28b52ffd ? 'zstd' : 'none';
      blobHash.update(b);
      compressedSize += b.length;
      yield b;
    }
  })();
  try {
    await pipeline(
      Readable.from(decompressLayer(raw, 'auto')),
      counter((b) => {
        diffHash.update(b);
        uncompressedSize += b.length;
      }),
      ex,
    );
  } catch (cause) {
    if (cause instanceof TsbuildError) throw cause;
    throw new TsbuildError('ERR_TSBUILD_LAYER_FORMAT', `cannot read layer: ${(cause as Error).message}`, { cause });
  }
  return {
    diffId: `sha256:${diffHash.digest('hex')}` as Digest,
    uncompressedSize,
    compressedSize,
    blobDigest: `sha256:${blobHash.digest('hex')}` as Digest,
    compression,
    entries,
  };
}
