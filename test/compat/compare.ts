/**
 * What "the same image as BuildKit" means here, as data: a normalised config, a flattened
 * filesystem listing and per-layer entry lists, each turned into sorted lines so that a
 * divergence prints as a readable diff.
 */
import { describe, flatten, type ImageData, type TarEntry } from './image-tree.js';

/**
 * The image config with only the fields that legitimately differ between two builds removed
 * (a case's `build-args` giving SOURCE_DATE_EPOCH keeps the times):
 * - `created` (top level and each history entry): wall-clock times of the build.
 *   History entries of the base image are kept whole, since both builders copy them
 *   from the same registry manifest — only entries after the base have their `created` dropped.
 * - `rootfs.diff_ids`: digests of layer tars, which carry mtimes of files created at build time
 *   (RUN output, WORKDIR dirs, COPY destinations' parents); replaced by their count, and the
 *   contents are compared entry by entry instead. Base-image diff_ids must still match exactly.
 * Everything else (config.*, history created_by/comment/empty_layer, architecture, os, …) must
 * match byte for byte after JSON round-tripping, key order aside.
 */
export function normalizeConfig(config: Record<string, any>, baseHistory: number, baseLayers: number, options: { keepCreated?: boolean } = {}): Record<string, any> {
  const c = structuredClone(config);
  // With SOURCE_DATE_EPOCH both builders must write exactly its time: nothing to drop.
  if (!options.keepCreated) {
    delete c.created;
    if (Array.isArray(c.history)) c.history = c.history.map((h: Record<string, unknown>, i: number) => (i < baseHistory ? h : { ...h, created: undefined }));
  }
  if (c.rootfs?.diff_ids) c.rootfs = { type: c.rootfs.type, base_diff_ids: c.rootfs.diff_ids.slice(0, baseLayers), layers: c.rootfs.diff_ids.length };
  return sortKeys(c);
}

/**
 * How much of an image built by BuildKit is its base image: the leading history entries not
 * written by BuildKit's Dockerfile frontend (every entry it writes carries the comment
 * `buildkit.dockerfile.v0`; the lab's bases were made by buildah/debootstrap), and their layers.
 */
export function baseOf(config: Record<string, any>): { history: number; layers: number } {
  const history = (config.history ?? []) as Array<{ comment?: string; empty_layer?: boolean }>;
  let n = 0;
  while (n < history.length && history[n]!.comment !== 'buildkit.dockerfile.v0') n++;
  return { history: n, layers: history.slice(0, n).filter((h) => !h.empty_layer).length };
}

function sortKeys(v: any): any {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

/** The config as `json.path = value` lines; array indexes are in the path, so order differences show. */
export function configLines(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return v.length === 0 ? [`${at} = []`] : v.flatMap((x, i) => configLines(x, `${at}[${i}]`));
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
    return keys.length === 0 ? [`${at} = {}`] : keys.flatMap((k) => configLines((v as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return [`${at} = ${JSON.stringify(v)}`];
}

/** The final filesystem, one line per path. `paths` filters to a subset (e.g. leave out the base image's untouched files). */
export function fsLines(image: ImageData): string[] {
  const fs = flatten(image.layers);
  return [...fs.values()].map((e) => describe(e, fs)).sort();
}

/**
 * Modification times carried over from inputs, which both builders must keep: every path that
 * either builder gives an mtime at or before `inputsUpTo`. The test pins the context's times to
 * one old instant and the lab's bases and the fixtures' tarballs are older still, while anything
 * a build creates is stamped with the build's clock (or, for BuildKit, the clock of a cached
 * earlier run) and can never match, so it is left out.
 */
export function mtimeLines(a: ImageData, b: ImageData, inputsUpTo: number): [string[], string[]] {
  const fa = flatten(a.layers);
  const fb = flatten(b.layers);
  const paths = [...fa.keys()].filter((p) => fb.has(p) && (fa.get(p)!.mtime <= inputsUpTo || fb.get(p)!.mtime <= inputsUpTo));
  const line = (e: TarEntry) => `${e.path || '/'} mtime=${e.mtime}`;
  return [paths.map((p) => line(fa.get(p)!)), paths.map((p) => line(fb.get(p)!))];
}

/** Per layer: entry names (whiteouts and opaque markers included) with type, mode and owner. */
export function layerLines(layer: TarEntry[]): string[] {
  return layer.map((e) => describe(e)).sort();
}

/** A minimal line diff: lines only in a (`-`) and only in b (`+`). Empty means equal as multisets. */
export function lineDiff(a: string[], b: string[]): string[] {
  const count = new Map<string, number>();
  for (const l of a) count.set(l, (count.get(l) ?? 0) + 1);
  for (const l of b) count.set(l, (count.get(l) ?? 0) - 1);
  const out: string[] = [];
  for (const [l, n] of count) {
    if (n > 0) for (let i = 0; i < n; i++) out.push(`- ${l}`);
    if (n < 0) for (let i = 0; i < -n; i++) out.push(`+ ${l}`);
  }
  return out.sort((x, y) => x.slice(2).localeCompare(y.slice(2)) || x.localeCompare(y));
}
