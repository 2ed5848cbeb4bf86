/**
 * Contracts of the on-disk state root. cache/ implements them; snapshot/, registry/, solver/
 * and exporter/ consume them. Nothing here knows about Dockerfiles.
 *
 * State root layout (under --root, $TSBUILD_ROOT, or the per-user default):
 *   content/blobs/sha256/<hex>   committed blobs, immutable, named by digest
 *   content/ingest/              temp files being written (removed on startup if stale)
 *   images/                      name -> manifest digest records
 *   snapshots/                   unpacked layers and step outputs (snapshot/ owns it)
 *   cache/keys/                  cache-key index (solver/cache-index.ts)
 *   cache/layer-diffs/           tars made for layers kept as dirs (solver/pending-layers.ts)
 *   cache/copy-reuse/            what each COPY of the context made last (solver/ops/copy-reuse.ts)
 *   cache/up-to-date/            up-to-date records of build invocations (uptodate/record.ts)
 *   cache/compression-variants.json  compressed blobs of layers (exporter/convert-layers.ts)
 *   locks/                       advisory lock files
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface ExpectedBlob {
  digest?: Digest;
  size?: number;
}

/** A content-addressed blob store with atomic, verified writes. Safe across processes. */
export interface ContentStore {
  readonly root: string;
  has(digest: Digest): Promise<boolean>;
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** Path of a committed blob (read-only; never write to it). */
  blobPath(digest: Digest): string;
  /** Throws ERR_TSBUILD_STORE_CORRUPT-coded error if missing. */
  openRead(digest: Digest): Readable;
  readBytes(digest: Digest): Promise<Buffer>;
  readJson<T = unknown>(digest: Digest): Promise<T>;
  /**
   * Streams data in: temp file, fsync, verify digest/size against `expected`, rename into place.
   * On mismatch nothing is stored and ERR_TSBUILD_STORE_DIGEST_MISMATCH is thrown.
   */
  writeStream(source: AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo>;
  writeBytes(data: Uint8Array | string, expected?: ExpectedBlob): Promise<BlobInfo>;
  delete(digest: Digest): Promise<void>;
  list(): AsyncIterable<BlobInfo>;
}

/** A named local image: `name` is a normalized reference (docker.io/library/busybox:latest). */
export interface ImageRecord {
  name: string;
  /** Digest of the manifest blob (which is in the content store). */
  digest: Digest;
  mediaType: string;
  /** ISO time the record was written. */
  updated: string;
}

export interface ImageStore {
  get(name: string): Promise<ImageRecord | undefined>;
  put(record: ImageRecord): Promise<void>;
  delete(name: string): Promise<boolean>;
  list(): Promise<ImageRecord[]>;
}
