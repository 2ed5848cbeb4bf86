/**
 * The content-addressed blob store. Writes go to a private temp file in content/ingest, are
 * hashed while streaming, fsynced, verified against the expected digest and size, and renamed
 * into content/blobs/sha256/<hex>. rename() is atomic, so a reader (or a process killed at any
 * moment) sees either no blob or the whole verified blob, never a torn one. Two processes
 * writing the same blob race harmlessly: both renames install identical bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors/index.js';
import { digestHex, isDigest, sha256, type Digest } from '../util/digest.js';
import type { BlobInfo, ContentStore, ExpectedBlob } from './types.js';

export function createContentStore(root: string): ContentStore {
  const blobs = path.join(root, 'content', 'blobs', 'sha256');
  const ingest = path.join(root, 'content', 'ingest');
  let ready: Promise<unknown> | undefined;
  const ensureDirs = () => (ready ??= Promise.all([mkdir(blobs, { recursive: true }), mkdir(ingest, { recursive: true })]));
  const blobPath = (d: Digest): string => {
    if (!isDigest(d)) throw new TsbuildError('ERR_TSBUILD_STORE_CORRUPT', `not a sha256 digest: ${String(d)}`);
    return path.join(blobs, digestHex(d));
  };

  const commit = async (tmp: string, actual: Digest, size: number, expected: ExpectedBlob | undefined): Promise<BlobInfo> => {
    if ((expected?.digest && expected.digest !== actual) || (expected?.size !== undefined && expected.size !== size)) {
      await unlink(tmp).catch(() => {});
      throw new TsbuildError(
        'ERR_TSBUILD_STORE_DIGEST_MISMATCH',
        `content mismatch: expected ${expected.digest ?? ''}${expected.size !== undefined ? ` (${expected.size} bytes)` : ''}, got ${actual} (${size} bytes)`,
      );
    }
    await rename(tmp, blobPath(actual));
    // The rename is durable only once the directory entry is on disk: without this a power loss
    // could lose a blob that an image record (written next) already points at.
    const dir = await open(blobs, 'r');
    await dir.sync().finally(() => dir.close());
    return { digest: actual, size };
  };

  const writeStream = async (source: AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo> => {
    await ensureDirs();
    if (expected?.digest && (await exists(blobPath(expected.digest)))) {
      // Already committed: drain nothing more than needed (the caller's stream is abandoned).
      if (typeof (source as Readable).destroy === 'function') (source as Readable).destroy();
      return { digest: expected.digest, size: (await stat(blobPath(expected.digest))).size };
    }
    const tmp = path.join(ingest, `${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o644);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    return commit(tmp, `sha256:${hash.digest('hex')}`, size, expected);
  };

  return {
    root,
    blobPath,
    async has(d) {
      return exists(blobPath(d));
    },
    async stat(d) {
      try {
        return { digest: d, size: (await stat(blobPath(d))).size };
      } catch {
        return undefined;
      }
    },
    openRead(d) {
      const s = createReadStream(blobPath(d));
      s.on('error', () => {});
      return s;
    },
    async readBytes(d) {
      try {
        return await readFile(blobPath(d));
      } catch (cause) {
        throw new TsbuildError('ERR_TSBUILD_STORE_CORRUPT', `blob ${d} is missing from the store`, { cause });
      }
    },
    async readJson<T>(d: Digest): Promise<T> {
      return JSON.parse((await this.readBytes(d)).toString('utf8')) as T;
    },
    writeStream,
    async writeBytes(data, expected) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      // In-memory data is hashed first: a blob that is already committed (a rebuilt manifest or
      // config) costs one stat instead of a temp file and two fsyncs.
      const digest = sha256(buf);
      if ((!expected?.digest || expected.digest === digest) && (expected?.size === undefined || expected.size === buf.length) && (await exists(blobPath(digest)))) {
        return { digest, size: buf.length };
      }
      return writeStream((async function* () {
        yield buf;
      })(), expected);
    },
    async delete(d) {
      await rm(blobPath(d), { force: true });
    },
    async *list() {
      let names: string[] = [];
      try {
        names = await readdir(blobs);
      } catch {
        return;
      }
      for (const n of names) {
        if (!/^[a-f0-9]{64}$/.test(n)) continue;
        try {
          yield { digest: `sha256:${n}` as Digest, size: (await stat(path.join(blobs, n))).size };
        } catch {
          // removed concurrently
        }
      }
    },
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Re-hashes every blob; removes corrupt ones and stale ingest files. */
export async function fsckContentStore(store: ContentStore, options: { repair?: boolean; staleMs?: number } = {}): Promise<{ blobs: number; corrupt: Digest[]; staleIngest: number }> {
  const corrupt: Digest[] = [];
  let blobs = 0;
  for await (const info of store.list()) {
    blobs++;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(store.blobPath(info.digest))) hash.update(chunk as Buffer);
    if (`sha256:${hash.digest('hex')}` !== info.digest) {
      corrupt.push(info.digest);
      if (options.repair) await store.delete(info.digest);
    }
  }
  let staleIngest = 0;
  const ingest = path.join(store.root, 'content', 'ingest');
  for (const name of await readdir(ingest).catch(() => [] as string[])) {
    const p = path.join(ingest, name);
    const pid = Number(name.split('-')[0]);
    const st = await stat(p).catch(() => undefined);
    const alive = Number.isInteger(pid) && pidAlive(pid);
    if (st && (!alive || Date.now() - st.mtimeMs > (options.staleMs ?? 3600_000))) {
      staleIngest++;
      if (options.repair) await rm(p, { force: true });
    }
  }
  return { blobs, corrupt, staleIngest };
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
