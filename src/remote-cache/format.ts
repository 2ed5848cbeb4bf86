/**
 * The remote cache artifact (docs/cache-format.md): one OCI image manifest whose config is a
 * tsbuild cache config listing cache records, and whose layers are the step layer blobs (then
 * the cache mount tarballs). Pure data: building and checking these documents touches no I/O.
 */
import { TsbuildError } from '../errors/index.js';
import { isDigest, type Digest } from '../util/digest.js';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CACHE_ARTIFACT_TYPE = 'application/vnd.tsbuild.cache.v1';
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';
export const CACHE_MOUNT_MEDIA_TYPE = 'application/vnd.tsbuild.cache.mount.v1.tar+gzip';

export interface BlobDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
}

/** A step layer: its stored blob and the sha256 of its uncompressed tar. */
export interface CacheLayer extends BlobDescriptor {
  diffId: Digest;
}

/** One cache record: a cache key and the full layer chain (bottom first) of the step's result. */
export interface CacheConfigRecord {
  key: Digest;
  /** Indexes into `layers`, bottom first. */
  chain: number[];
  /** When the result was first built (keeps image history times, hence digests, stable). */
  created?: string;
  /** The step's display name, for humans only. */
  name?: string;
}

/** The contents of one `RUN --mount=type=cache` mount, by mount id. */
export interface CacheConfigMount extends BlobDescriptor {
  id: string;
}

export interface CacheConfig {
  version: 1;
  layers: CacheLayer[];
  records: CacheConfigRecord[];
  mounts: CacheConfigMount[];
}

export interface CacheManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType: string;
  config: BlobDescriptor;
  layers: BlobDescriptor[];
  annotations?: Record<string, string>;
}

/** A record as the solver's cache index holds it. */
export interface CacheRecordLike {
  key: Digest;
  layers: Array<{ diffId: Digest; blob: Digest; mediaType: string; size: number }>;
  created?: string;
  name?: string;
}

/**
 * Builds the config from records: every distinct layer blob appears once (first use order), and
 * records are sorted by key so the same cache state always serializes to the same bytes.
 */
export function buildCacheConfig(records: CacheRecordLike[], mounts: CacheConfigMount[]): CacheConfig {
  const layers: CacheLayer[] = [];
  const indexOf = new Map<Digest, number>();
  const out: CacheConfigRecord[] = [];
  for (const r of [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const chain = r.layers.map((l) => {
      let i = indexOf.get(l.blob);
      if (i === undefined) {
        i = layers.length;
        indexOf.set(l.blob, i);
        layers.push({ mediaType: l.mediaType, digest: l.blob, size: l.size, diffId: l.diffId });
      }
      return i;
    });
    out.push({ key: r.key, chain, ...(r.created ? { created: r.created } : {}), ...(r.name ? { name: r.name } : {}) });
  }
  const sortedMounts = [...mounts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { version: 1, layers, records: out, mounts: sortedMounts };
}

export function buildCacheManifest(config: CacheConfig, configDesc: BlobDescriptor): CacheManifest {
  const strip = (d: BlobDescriptor): BlobDescriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: strip(configDesc),
    layers: [...config.layers.map(strip), ...config.mounts.map(strip)],
  };
}

function invalid(why: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_CACHE_FORMAT', `not a tsbuild cache: ${why}`);
}

function checkDescriptor(d: unknown, where: string): asserts d is BlobDescriptor {
  const o = d as Partial<BlobDescriptor> | null;
  if (typeof o !== 'object' || o === null || !isDigest(o.digest) || typeof o.mediaType !== 'string' || !Number.isInteger(o.size) || (o.size as number) < 0) {
    throw invalid(`bad descriptor in ${where}`);
  }
}

/** Checks a fetched manifest is our artifact; returns its config descriptor. */
export function parseCacheManifest(bytes: Buffer): CacheManifest {
  let doc: Partial<CacheManifest>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Partial<CacheManifest>;
  } catch {
    throw invalid('the manifest is not JSON');
  }
  if (doc.schemaVersion !== 2 || !doc.config || !Array.isArray(doc.layers)) throw invalid('not an OCI image manifest');
  checkDescriptor(doc.config, 'config');
  if (doc.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) throw invalid(`config media type is ${doc.config.mediaType}, expected ${CACHE_CONFIG_MEDIA_TYPE}`);
  doc.layers.forEach((l, i) => checkDescriptor(l, `layers[${i}]`));
  return doc as CacheManifest;
}

/** Parses and checks a cache config against its manifest (every blob it names must be listed there). */
export function parseCacheConfig(bytes: Buffer, manifest: CacheManifest): CacheConfig {
  let doc: Partial<CacheConfig>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Partial<CacheConfig>;
  } catch {
    throw invalid('the config is not JSON');
  }
  if (doc.version !== 1) throw invalid(`unsupported config version ${String(doc.version)}`);
  if (!Array.isArray(doc.layers) || !Array.isArray(doc.records)) throw invalid('config without layers or records');
  const listed = new Set(manifest.layers.map((l) => l.digest));
  doc.layers.forEach((l, i) => {
    checkDescriptor(l, `config layers[${i}]`);
    if (!isDigest(l.diffId)) throw invalid(`config layers[${i}] has no diffId`);
    if (!listed.has(l.digest)) throw invalid(`layer ${l.digest} is not in the manifest`);
  });
  for (const r of doc.records) {
    if (!isDigest(r.key) || !Array.isArray(r.chain) || !r.chain.every((i) => Number.isInteger(i) && i >= 0 && i < doc.layers!.length)) {
      throw invalid(`bad record ${JSON.stringify(r).slice(0, 120)}`);
    }
  }
  const mounts = doc.mounts ?? [];
  mounts.forEach((m, i) => {
    checkDescriptor(m, `mounts[${i}]`);
    if (typeof m.id !== 'string' || m.id === '') throw invalid(`mounts[${i}] has no id`);
    if (!listed.has(m.digest)) throw invalid(`mount blob ${m.digest} is not in the manifest`);
  });
  return { version: 1, layers: doc.layers, records: doc.records, mounts };
}

/** Expands a config record into the solver's record shape. */
export function recordFromConfig(config: CacheConfig, r: CacheConfigRecord): CacheRecordLike {
  return {
    key: r.key,
    layers: r.chain.map((i) => {
      const l = config.layers[i]!;
      return { diffId: l.diffId, blob: l.digest, mediaType: l.mediaType, size: l.size };
    }),
    ...(r.created ? { created: r.created } : {}),
    ...(r.name ? { name: r.name } : {}),
  };
}
