/**
 * `--cache-to` / `--cache-from` in buildx syntax, parsed and validated before the build starts:
 *   type=registry,ref=REG/REPO:TAG[,mode=min|max][,cache-mounts=true][,ignore-error=true]
 *   type=local,dest=DIR[,tag=T][,mode=min|max][,cache-mounts=true][,ignore-error=true]
 *   type=registry,ref=...   type=local,src=DIR[,tag=T]   (or a bare REF, as buildx allows)
 */
import { TsbuildError } from '../errors/index.js';
import { parseReference, type ParsedReference } from '../oci/index.js';

export type CacheLocationSpec =
  | { type: 'registry'; ref: ParsedReference & { tag: string }; text: string }
  | { type: 'local'; dir: string; tag: string };

export interface CacheExportSpec {
  location: CacheLocationSpec;
  /** min: the final image's steps only; max: every step of every stage the build reached. */
  mode: 'min' | 'max';
  /** Also export the contents of RUN --mount=type=cache mounts (opt-in). */
  cacheMounts: boolean;
  /** A failed export only warns instead of failing the build. */
  ignoreError: boolean;
}

export interface CacheImportSpec {
  location: CacheLocationSpec;
}

// image-manifest and oci-mediatypes are accepted for buildx compatibility: tsbuild always writes
// an OCI image manifest with OCI media types, which is what both ask for when true.
const COMPAT_KEYS = ['image-manifest', 'oci-mediatypes'];
const EXPORT_KEYS: Record<'registry' | 'local', string[]> = {
  registry: ['ref', 'mode', 'cache-mounts', 'ignore-error', ...COMPAT_KEYS],
  local: ['dest', 'tag', 'mode', 'cache-mounts', 'ignore-error', ...COMPAT_KEYS],
};
const IMPORT_KEYS: Record<'registry' | 'local', string[]> = {
  registry: ['ref'],
  local: ['src', 'tag'],
};

function bad(flag: string, raw: string, why: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_CACHE_OPTIONS', `invalid ${flag} "${raw}": ${why}`);
}

function fieldsOf(raw: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const f of raw.split(',')) {
    const eq = f.indexOf('=');
    kv.set(eq === -1 ? f : f.slice(0, eq), eq === -1 ? '' : f.slice(eq + 1));
  }
  return kv;
}

function bool(flag: string, raw: string, key: string, v: string | undefined): boolean {
  if (v === undefined || v === 'false') return false;
  if (v === '' || v === 'true') return true;
  throw bad(flag, raw, `${key} must be true or false`);
}

function location(flag: string, raw: string, kv: Map<string, string>, allowed: Record<'registry' | 'local', string[]>, dirKey: 'dest' | 'src'): CacheLocationSpec {
  const type = kv.get('type');
  if (type === undefined) throw bad(flag, raw, 'type= is required');
  if (type !== 'registry' && type !== 'local') throw bad(flag, raw, `unsupported cache type "${type}" (expected registry or local)`);
  for (const k of kv.keys()) if (k !== 'type' && !allowed[type].includes(k)) throw bad(flag, raw, `unknown key "${k}" for type=${type}`);
  if (type === 'registry') {
    const text = kv.get('ref');
    if (!text) throw bad(flag, raw, 'ref= is required for type=registry');
    let ref: ParsedReference;
    try {
      ref = parseReference(text);
    } catch (cause) {
      throw new TsbuildError('ERR_TSBUILD_CACHE_OPTIONS', `invalid ${flag} "${raw}": bad ref`, { cause });
    }
    if (ref.digest !== undefined) throw bad(flag, raw, 'ref must name a tag, not a digest');
    return { type, ref: { ...ref, tag: ref.tag ?? 'latest' }, text };
  }
  const dir = kv.get(dirKey);
  if (!dir) throw bad(flag, raw, `${dirKey}= is required for type=local`);
  const tag = kv.get('tag') ?? 'latest';
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw bad(flag, raw, `bad tag "${tag}"`);
  return { type, dir, tag };
}

export function parseCacheExport(raw: string): CacheExportSpec {
  const kv = fieldsOf(raw);
  const loc = location('--cache-to', raw, kv, EXPORT_KEYS, 'dest');
  const mode = kv.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw bad('--cache-to', raw, `mode must be min or max, got "${mode}"`);
  for (const k of COMPAT_KEYS) if (kv.has(k) && !bool('--cache-to', raw, k, kv.get(k))) throw bad('--cache-to', raw, `${k}=false is not supported (the cache is always an OCI image manifest)`);
  return {
    location: loc,
    mode,
    cacheMounts: bool('--cache-to', raw, 'cache-mounts', kv.get('cache-mounts')),
    ignoreError: bool('--cache-to', raw, 'ignore-error', kv.get('ignore-error')),
  };
}

export function parseCacheImport(raw: string): CacheImportSpec {
  // A bare value is a registry ref, as in `docker buildx build --cache-from user/app:cache`.
  const kv = raw.includes('=') ? fieldsOf(raw) : new Map([['type', 'registry'], ['ref', raw]]);
  return { location: location('--cache-from', raw, kv, IMPORT_KEYS, 'src') };
}

/** A short name for messages. */
export function describeLocation(loc: CacheLocationSpec): string {
  return loc.type === 'registry' ? `${loc.ref.registry}/${loc.ref.repository}:${loc.ref.tag}` : `${loc.dir}:${loc.tag}`;
}
