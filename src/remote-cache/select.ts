/**
 * Which records a cache export holds, and the solver-side view of imported records. Works on
 * the build graph and plain functions, so it needs neither the solver nor the planner.
 *
 * mode=min: the steps whose layers make up the final image (the target's root chain).
 * mode=max: every layer step the target depends on, in every stage.
 */
import { imageLayerSteps, targetLayerSteps, type BuildGraph, type Vertex } from '../graph/index.js';
import type { Digest } from '../util/digest.js';
import type { CacheRecordLike } from './format.js';
import type { ImportedCache } from './import.js';

/** The vertices whose records a cache export with `mode` includes. */
export function cacheExportVertices(graph: BuildGraph, mode: 'min' | 'max'): Vertex[] {
  return mode === 'min' ? imageLayerSteps(graph) : targetLayerSteps(graph);
}

/** Records for the chosen vertices; a vertex with no record (never built here nor imported) is left out. */
export async function collectCacheRecords(
  vertices: Vertex[],
  keyOf: (d: Digest) => Promise<Digest>,
  lookup: (key: Digest) => Promise<{ key: Digest; layers: CacheRecordLike['layers']; created?: string } | undefined>,
): Promise<CacheRecordLike[]> {
  const out = new Map<Digest, CacheRecordLike>();
  for (const v of vertices) {
    const key = await keyOf(v.digest);
    if (out.has(key)) continue;
    const r = await lookup(key);
    if (r) out.set(key, { key, layers: r.layers, ...(r.created ? { created: r.created } : {}), name: v.meta.name });
  }
  return [...out.values()];
}

/** Ids of the cache mounts the chosen vertices use. */
export function cacheMountIds(vertices: Vertex[]): string[] {
  const ids = new Set<string>();
  for (const v of vertices) if (v.op.kind === 'exec') for (const m of v.op.mounts) if (m.type === 'cache') ids.add(m.id);
  return [...ids].sort();
}

interface IndexLike<R> {
  get(key: Digest): Promise<R | undefined>;
  put(record: R): Promise<void>;
  delete(key: Digest): Promise<void>;
  list(): Promise<R[]>;
}

/**
 * The local cache index with imported records behind it: local records win; a key only an
 * import has resolves to the imported layer chain (its blobs are fetched later, if needed).
 */
export function withImportedRecords<R extends { key: Digest; layers: CacheRecordLike['layers']; created: string }>(
  local: IndexLike<R>,
  imported: ImportedCache,
  onImported?: (record: R) => void,
): IndexLike<R> {
  return {
    async get(key) {
      const mine = await local.get(key);
      if (mine) return mine;
      const r = imported.get(key);
      if (!r) return undefined;
      const record = { key: r.key, layers: r.layers, created: r.created ?? new Date(0).toISOString() } as R;
      onImported?.(record);
      return record;
    },
    put: (record) => local.put(record),
    delete: (key) => local.delete(key),
    list: () => local.list(),
  };
}
