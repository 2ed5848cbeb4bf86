/**
 * Where a cache artifact lives: a registry repository (OCI distribution) or a local OCI image
 * layout directory (as buildx's type=local writes it). Both expose the same few operations so
 * import and export do not care which one they talk to.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, type ContentStore } from '../cache/index.js';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import { blobExists, fetchBlob, fetchManifest, pushBlob, putManifest, type RegistryClient } from '../registry/index.js';
import { digestHex, sha256, type Digest } from '../util/digest.js';
import { OCI_MANIFEST_MEDIA_TYPE, type BlobDescriptor } from './format.js';
import { pruneLayout } from './layout-gc.js';
import { describeLocation, type CacheLocationSpec } from './options.js';

export interface CacheLocation {
  readonly name: string;
  /** The manifest bytes under the tag, or undefined when there is none. */
  readManifest(): Promise<{ bytes: Buffer; digest: Digest } | undefined>;
  /** Copies a blob into the store (verified); returns the bytes transferred (0 when already there). */
  fetchBlob(desc: BlobDescriptor, store: ContentStore): Promise<number>;
  hasBlob(desc: BlobDescriptor): Promise<boolean>;
  /** Copies a blob from the store unless the location has it; returns the bytes transferred. */
  putBlob(ctx: BuildContext, desc: BlobDescriptor, store: ContentStore): Promise<number>;
  /** Writes the manifest and points the tag at it. */
  putManifest(bytes: Buffer, mediaType: string): Promise<void>;
}

export function openCacheLocation(spec: CacheLocationSpec, registry: RegistryClient): CacheLocation {
  return spec.type === 'registry' ? registryLocation(spec, registry) : localLocation(spec);
}

function registryLocation(spec: Extract<CacheLocationSpec, { type: 'registry' }>, client: RegistryClient): CacheLocation {
  const repo = { registry: spec.ref.registry, repository: spec.ref.repository };
  return {
    name: describeLocation(spec),
    async readManifest() {
      try {
        const m = await fetchManifest(client, repo, spec.ref.tag);
        return { bytes: m.bytes, digest: m.digest };
      } catch (err) {
        if (err instanceof TsbuildError && err.code === 'ERR_TSBUILD_REGISTRY_NOT_FOUND') return undefined;
        throw err;
      }
    },
    fetchBlob: (desc, store) => fetchBlob(client, repo, desc, store),
    hasBlob: (desc) => blobExists(client, repo, desc.digest),
    async putBlob(ctx, desc, store) {
      const stats = { uploaded: 0, skipped: 0, mounted: 0, bytes: 0 };
      await pushBlob(ctx, client, repo, store, desc, {}, stats);
      return stats.bytes;
    },
    putManifest: (bytes, mediaType) => putManifest(client, repo, spec.ref.tag, mediaType, bytes),
  };
}

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Array<BlobDescriptor & { annotations?: Record<string, string> }>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';

function localLocation(spec: Extract<CacheLocationSpec, { type: 'local' }>): CacheLocation {
  const dir = path.resolve(spec.dir);
  const blobFile = (d: Digest): string => path.join(dir, 'blobs', 'sha256', digestHex(d));
  const readIndex = async (): Promise<LayoutIndex | undefined> => {
    let text: string;
    try {
      text = await readFile(path.join(dir, 'index.json'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const index = JSON.parse(text) as LayoutIndex;
      if (!Array.isArray(index.manifests)) throw new Error('no manifests');
      return index;
    } catch (cause) {
      throw new TsbuildError('ERR_TSBUILD_CACHE_FORMAT', `${path.join(dir, 'index.json')} is not an OCI layout index`, { cause });
    }
  };
  // Write-then-rename keeps a reader (another build importing this dir) from seeing a torn file.
  const atomicWrite = async (file: string, data: Buffer | string): Promise<void> => {
    // Unique per write, not per process and millisecond: one build may export two tags at once.
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
  };
  const present = async (desc: BlobDescriptor): Promise<boolean> => (await stat(blobFile(desc.digest)).catch(() => undefined))?.size === desc.size;
  return {
    name: describeLocation(spec),
    async readManifest() {
      const index = await readIndex();
      const entry = index?.manifests.find((m) => m.annotations?.[REF_NAME] === spec.tag);
      if (!entry) return undefined;
      const bytes = await readFile(blobFile(entry.digest)).catch(() => undefined);
      if (!bytes) return undefined;
      if (sha256(bytes) !== entry.digest) throw new TsbuildError('ERR_TSBUILD_STORE_DIGEST_MISMATCH', `${dir}: manifest ${entry.digest} does not match its digest`);
      return { bytes, digest: entry.digest };
    },
    async fetchBlob(desc, store) {
      if (await store.has(desc.digest)) return 0;
      if (!(await present(desc))) throw new TsbuildError('ERR_TSBUILD_CACHE_FORMAT', `${dir}: blob ${desc.digest} is missing`);
      await store.writeStream(createReadStream(blobFile(desc.digest)), { digest: desc.digest, size: desc.size });
      return desc.size;
    },
    hasBlob: present,
    async putBlob(_ctx, desc, store) {
      if (await present(desc)) return 0;
      await mkdir(path.dirname(blobFile(desc.digest)), { recursive: true });
      const tmp = `${blobFile(desc.digest)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      await copyFile(store.blobPath(desc.digest), tmp);
      await rename(tmp, blobFile(desc.digest));
      return desc.size;
    },
    async putManifest(bytes, mediaType) {
      await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
      const digest = sha256(bytes);
      await atomicWrite(blobFile(digest), bytes);
      await atomicWrite(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      // index.json is read, changed and replaced: two builds exporting to one directory (other
      // tags, or the same) would each drop the other's entry. The lock (<dir>/locks/) orders them.
      const release = await acquireLock(dir, 'tsbuild-index');
      try {
        const index = (await readIndex().catch(() => undefined)) ?? { schemaVersion: 2, manifests: [] };
        const others = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== spec.tag);
        const entry = { mediaType: mediaType || OCI_MANIFEST_MEDIA_TYPE, digest, size: bytes.length, annotations: { [REF_NAME]: spec.tag } };
        await atomicWrite(path.join(dir, 'index.json'), `${JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [...others, entry] })}\n`);
        // The manifest this one replaced (and its layers no other entry uses) can go now.
        await pruneLayout(dir);
      } finally {
        await release();
      }
    },
  };
}
