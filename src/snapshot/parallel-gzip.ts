/**
 * gzip with the deflate work spread over the thread pool, pigz-style: the input is cut into
 * fixed 128 KiB blocks, each block is deflated on its own with the previous 32 KiB as its
 * dictionary and ends with a sync flush, so the raw outputs join into one ordinary deflate stream
 * (closed by an empty final block) inside one gzip member. Any gunzip reads it; the bytes depend
 * only on the input and the level (block boundaries never follow the input's chunking), so layer
 * digests stay reproducible. A layer's compression was the largest single cost of committing a
 * 2,000-file COPY (~180 ms for 8 MB in one thread).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

const BLOCK = 128 * 1024;
const DICT = 32 * 1024;
/** Blocks being deflated at once (the thread pool has four threads by default). */
const IN_FLIGHT = 4;
/** An empty final fixed-Huffman block: what deflate writes for Z_FINISH after a sync flush. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

function deflateBlock(data: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => deflateRaw(data, options, (err, out) => (err ? reject(err) : resolve(out))));
}

/** A gzip compressor Transform (`level` 0-9). */
export function createParallelGzip(level = 6): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let dictionary: Buffer | undefined;
  let crc = 0;
  let size = 0;
  const inFlight: Array<Promise<Buffer>> = [];
  // zlib's own header for a default-strategy stream: no name, no mtime, XFL by level, OS unix.
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, xfl, 0x03]);
  let headerSent = false;

  const startBlock = (block: Buffer): void => {
    crc = crc32(block, crc);
    size += block.length;
    const options: ZlibOptions = { level, finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) };
    const p = deflateBlock(block, options);
    p.catch(() => {});
    inFlight.push(p);
    dictionary = block.length > DICT ? block.subarray(block.length - DICT) : block;
  };

  const takeBlock = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    const block = all.subarray(0, n);
    const rest = all.subarray(n);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    return block;
  };

  /** Pushes finished blocks in order; waits for the oldest while `keep` or more are running. */
  const drain = async (t: Transform, keep: number): Promise<void> => {
    if (!headerSent) {
      t.push(header);
      headerSent = true;
    }
    while (inFlight.length > keep) t.push(await inFlight.shift()!);
  };

  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= BLOCK) startBlock(takeBlock(BLOCK));
      drain(this, IN_FLIGHT - 1).then(() => cb(), cb);
    },
    flush(cb: TransformCallback) {
      if (pendingBytes > 0) startBlock(takeBlock(pendingBytes));
      drain(this, 0).then(() => {
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(size % 0x100000000, 4);
        this.push(FINAL_BLOCK);
        this.push(trailer);
        cb();
      }, cb);
    },
  });
}
