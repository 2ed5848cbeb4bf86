/**
 * The cache index: cache key -> result record, persisted under <root>/cache/keys/ with an
 * lru-cache hot tier in front. One small JSON file per key keeps writes atomic (temp + rename)
 * and lets two processes share the index without a database; a killed writer leaves at most a
 * stray temp file, never a torn record.
 */
import { mkdir, opendir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { digestHex, type Digest } from '../util/digest.js';

/** One layer of a cached filesystem result. Blobs live in the content store. */
export interface LayerRef {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Digest of the stored (compressed) blob. */
  blob: Digest;
  mediaType: string;
  /** Size of the stored blob in bytes. */
  size: number;
  /**
   * Set on layers this store made: the blob is the uncompressed tar (digest = diff_id) and an
   * exporter compresses it to this compression and level (the first image exporter's, as when the
   * layer was made) unless its force-compression asks for another (exporter/convert-layers.ts).
   */
  lazy?: { compression: 'gzip' | 'zstd'; level?: number };
  /**
   * Set on a layer this store made whose tar nothing has needed yet (solver/pending-layers.ts):
   * it exists only as its dir under snapshots/layers, and `diffId` and `blob` both hold that
   * dir's random id, not digests of content; `size` is 0. materializeLayers() gives the real
   * LayerRef; the tar is made with `sourceDateEpoch` clamping, as it was asked for at commit.
   */
  pending?: { sourceDateEpoch?: number };
}

/** What a cache key resolves to: the full layer chain of the op's output filesystem. */
export interface CacheRecord {
  key: Digest;
  layers: LayerRef[];
  /** The vertex that produced it (for insight); not part of the key. */
  vertex?: Digest;
  created: string;
}

export interface CacheIndex {
  get(key: Digest): Promise<CacheRecord | undefined>;
  put(record: CacheRecord): Promise<void>;
  delete(key: Digest): Promise<void>;
  list(): Promise<CacheRecord[]>;
}

/** The file holding the record of `key` (the up-to-date check compares it, uptodate/). */
export const cacheRecordFile = (stateRoot: string, key: Digest): string => path.join(stateRoot, 'cache', 'keys', `${digestHex(key)}.json`);

export function createCacheIndex(stateRoot: string, options: { max?: number } = {}): CacheIndex & {
  /** True when no record exists at all (a fresh state root): no lookup can hit. */
  isEmpty(): Promise<boolean>;
} {
  const dir = path.join(stateRoot, 'cache', 'keys');
  const hot = new LRUCache<Digest, CacheRecord>({ max: options.max ?? 4096 });
  const fileOf = (key: Digest): string => cacheRecordFile(stateRoot, key);
  let dirReady: Promise<unknown> | undefined;

  const touch = (key: Digest): void => {
    // Last-use time drives LRU garbage collection; best effort, never fails a build.
    const now = new Date();
    utimes(fileOf(key), now, now).catch(() => {});
  };

  return {
    async get(key) {
      const mem = hot.get(key);
      if (mem) return mem;
      let text: string;
      try {
        // Read synchronously: a record is ~1 KB, and a rebuild looks up a chain of steps one after
        // another before any runs, where each awaited read was a thread-pool round trip (~0.3 ms).
        text = readFileSync(fileOf(key), 'utf8');
      } catch {
        return undefined;
      }
      try {
        const record = JSON.parse(text) as CacheRecord;
        if (record.key !== key) return undefined;
        hot.set(key, record);
        touch(key);
        return record;
      } catch {
        // A record that does not parse is treated as absent; put() will replace it.
        return undefined;
      }
    },
    async put(record) {
      dirReady ??= mkdir(dir, { recursive: true });
      await dirReady;
      const file = fileOf(record.key);
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, file);
      hot.set(record.key, record);
    },
    async delete(key) {
      hot.delete(key);
      await rm(fileOf(key), { force: true });
    },
    async isEmpty() {
      if (hot.size > 0) return false;
      // Stops at the first record: a warm root holds thousands, and this runs on every build.
      const entries = await opendir(dir).catch(() => undefined);
      if (!entries) return true;
      for await (const e of entries) if (e.name.endsWith('.json')) return false;
      return true;
    },
    async list() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return [];
      }
      const out: CacheRecord[] = [];
      for (const name of names) {
        if (!name.endsWith('.json')) continue;
        try {
          const record = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as CacheRecord;
          const st = await stat(path.join(dir, name));
          out.push({ ...record, created: record.created ?? st.mtime.toISOString() });
        } catch {
          // skip unreadable records
        }
      }
      return out;
    },
  };
}
