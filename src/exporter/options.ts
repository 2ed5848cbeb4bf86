/**
 * `-o/--output` in buildx syntax, parsed and validated before the build starts so a typo never
 * costs a build: `type=oci|docker|local|tar|image,dest=...,name=...,compression=...`.
 */
import { TsbuildError } from '../errors/index.js';
import type { Compression } from '../snapshot/index.js';

export type ExporterType = 'oci' | 'docker' | 'local' | 'tar' | 'image';

export interface ResolvedExporter {
  type: ExporterType;
  dest?: string;
  names: string[];
  compression: Compression;
  push: boolean;
  rewriteTimestamp: boolean;
  /** OCI media types (default) or Docker schema 2; buildx's docker exporter defaults to Docker types. */
  ociMediaTypes: boolean;
  /** Compression level for the chosen compression, when given. */
  compressionLevel?: number;
  /** Recompress base layers that use another compression. */
  forceCompression: boolean;
}

const KEYS: Record<ExporterType, string[]> = {
  oci: ['dest', 'name', 'compression', 'compression-level', 'force-compression', 'rewrite-timestamp', 'oci-mediatypes', 'tar'],
  docker: ['dest', 'name', 'compression', 'compression-level', 'force-compression', 'rewrite-timestamp', 'oci-mediatypes'],
  local: ['dest'],
  tar: ['dest'],
  image: ['name', 'push', 'compression', 'compression-level', 'force-compression', 'rewrite-timestamp', 'oci-mediatypes', 'registry.insecure'],
};

function bad(message: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_EXPORT_OPTIONS', message);
}

function bool(key: string, v: string): boolean {
  if (v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw bad(`invalid value for ${key}: "${v}" (expected true or false)`);
}

export function resolveExporters(outputs: string[], opts: { tags: string[]; push?: boolean }): ResolvedExporter[] {
  const out: ResolvedExporter[] = [];
  for (const raw of outputs) {
    // `-o dir` is shorthand for type=local,dest=dir, and `-o -` for type=tar,dest=- (stdout), as in buildx.
    const fields = raw.includes('=') ? raw.split(',') : raw === '-' ? ['type=tar', 'dest=-'] : [`type=local`, `dest=${raw}`];
    const kv = new Map<string, string>();
    for (const f of fields) {
      const eq = f.indexOf('=');
      kv.set(eq === -1 ? f : f.slice(0, eq), eq === -1 ? '' : f.slice(eq + 1));
    }
    // type=registry is buildx's name for an image exporter that pushes.
    const registry = kv.get('type') === 'registry';
    if (registry) kv.set('type', 'image');
    const type = (kv.get('type') ?? 'local') as ExporterType;
    if (opts.push && type !== 'image') throw bad(`--push and a type=${type} output can't be used together`);
    if (!(type in KEYS)) throw bad(`unknown exporter type "${type}" (expected oci, docker, local, tar, image or registry)`);
    for (const k of kv.keys()) if (k !== 'type' && !KEYS[type].includes(k)) throw bad(`unknown option "${k}" for type=${type}`);
    const dest = kv.get('dest');
    if ((type === 'oci' || type === 'docker' || type === 'local' || type === 'tar') && !dest) throw bad(`type=${type} needs dest=PATH`);
    if (type === 'local' && dest === '-') throw bad('type=local writes a directory; use type=tar,dest=- to stream the filesystem to stdout');
    const compression = (kv.get('compression') ?? 'gzip') as Compression;
    if (!['gzip', 'zstd', 'uncompressed'].includes(compression)) throw bad(`unknown compression "${compression}" (expected gzip, zstd or uncompressed)`);
    const names = kv.has('name') ? kv.get('name')!.split(/[;]/).filter(Boolean) : opts.tags;
    if (type === 'image' && names.length === 0) throw bad('type=image needs a name (name=... or -t)');
    const flag = (key: string, dflt: boolean) => (kv.has(key) ? bool(key, kv.get(key)!) : dflt);
    const levelText = kv.get('compression-level');
    let compressionLevel: number | undefined;
    if (levelText !== undefined) {
      compressionLevel = Number(levelText);
      const max = compression === 'zstd' ? 22 : 9;
      if (!/^-?\d+$/.test(levelText) || compressionLevel < 0 || compressionLevel > max) throw bad(`invalid compression-level "${levelText}" for ${compression} (0-${max})`);
    }
    out.push({
      type,
      ...(dest ? { dest } : {}),
      names,
      compression,
      push: flag('push', registry || (opts.push ?? false)),
      rewriteTimestamp: flag('rewrite-timestamp', false),
      // BuildKit: OCI types by default only for type=oci; zstd layers exist only as OCI types.
      ociMediaTypes: compression === 'zstd' || flag('oci-mediatypes', type === 'oci'),
      ...(compressionLevel !== undefined ? { compressionLevel } : {}),
      forceCompression: flag('force-compression', false),
    });
  }
  // `-t` without `-o` stores the image locally, like `docker build -t`.
  if (outputs.length === 0 && opts.push && opts.tags.length === 0) throw bad('--push needs a name to push to (-t NAME)');
  if (outputs.length === 0 && opts.tags.length > 0) out.push({ type: 'image', names: opts.tags, compression: 'gzip', push: opts.push ?? false, rewriteTimestamp: false, ociMediaTypes: false, forceCompression: false });
  return out;
}
