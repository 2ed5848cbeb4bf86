/**
 * The remote build cache around one build (api.ts wires it in): --cache-from sources are read
 * before solving and put behind the local cache index; blobs are fetched only when a running
 * step or an exporter needs them; --cache-to destinations are written after the image export.
 */
import { stat } from 'node:fs/promises';
import type { StateRoot } from './cache/index.js';
import { TsbuildError } from './errors/index.js';
import type { BuildGraph } from './graph/index.js';
import type { BuildContext } from './progress/index.js';
import type { RegistryClient } from './registry/index.js';
import {
  cacheExportVertices,
  cacheMountIds,
  collectCacheRecords,
  describeLocation,
  exportCache,
  importCaches,
  parseCacheExport,
  parseCacheImport,
  withImportedRecords,
  type CacheExportSpec,
  type CacheExportStats,
  type CacheImportSpec,
  type CacheImportStats,
  type ImportedCache,
} from './remote-cache/index.js';
import type { CacheIndex, CacheRecord } from './solver/cache-index.js';
import { withLazyInputs } from './solver/lazy-inputs.js';
import { cacheMountName, cacheMountPath } from './solver/ops/cache-mount-path.js';
import type { OpExecutor } from './solver/solve.js';
import type { LayerRef, SolveResult } from './solver/types.js';

export interface ResolvedBuildCache {
  exports: CacheExportSpec[];
  imports: CacheImportSpec[];
}

/** What the remote cache did in this build (progress, --metadata-file). */
export interface BuildCacheReport {
  import?: CacheImportStats;
  export: CacheExportStats[];
}

/** Parses --cache-to / --cache-from; throws ERR_TSBUILD_CACHE_OPTIONS before any work starts. */
export function resolveBuildCache(cacheTo: string[], cacheFrom: string[]): ResolvedBuildCache {
  return { exports: cacheTo.map(parseCacheExport), imports: cacheFrom.map(parseCacheImport) };
}

export interface BuildCacheSession {
  wrapIndex(local: CacheIndex): CacheIndex;
  wrapExecutor(executor: OpExecutor): OpExecutor;
  layersAvailable(record: { layers: Array<{ blob: LayerRef['blob'] }> }): Promise<boolean>;
  /** Fetches what the exporters will read: every blob of the final image. */
  ensureOutput(ctx: BuildContext, layers: LayerRef[]): Promise<void>;
  /** Exports to every --cache-to destination and reports. */
  finish(ctx: BuildContext, graph: BuildGraph, solved: SolveResult, index: CacheIndex): Promise<BuildCacheReport>;
}

export async function openBuildCache(
  ctx: BuildContext,
  resolved: ResolvedBuildCache,
  deps: {
    state: StateRoot;
    registry: RegistryClient;
    /** Gives uncompressed new layers their export blobs (exporter/convert-layers.ts); default: as stored. */
    convert?: (ctx: BuildContext, layers: LayerRef[]) => Promise<LayerRef[]>;
  },
): Promise<BuildCacheSession> {
  const { state, registry } = deps;
  const imported: ImportedCache | undefined = resolved.imports.length ? await importCaches(ctx, resolved.imports, { content: state.content, registry }) : undefined;
  let localIndex: CacheIndex | undefined;
  const used = new Map<string, CacheRecord>();
  return {
    wrapIndex(local) {
      localIndex = local;
      return imported ? withImportedRecords(local, imported, (r) => used.set(r.key, r)) : local;
    },
    wrapExecutor: (executor) =>
      imported
        ? withLazyInputs(executor, state.root, {
            ensureLayers: (c, layers) => imported.ensureBlobs(c, layers),
            seedCacheMount: (c, id, dir) => imported.seedMount(c, id, dir),
          })
        : executor,
    async layersAvailable(record) {
      const have = await Promise.all(record.layers.map(async (l) => (await state.content.has(l.blob)) || (imported?.hasBlob(l.blob) ?? false)));
      return have.every(Boolean);
    },
    async ensureOutput(c, layers) {
      await imported?.ensureBlobs(c, layers);
    },
    async finish(c, graph, solved, index) {
      const report: BuildCacheReport = { export: [] };
      for (const spec of resolved.exports) {
        try {
          const vertices = cacheExportVertices(graph, spec.mode);
          const stored = await collectCacheRecords(vertices, (d) => solved.keyOf(d), (key) => index.get(key));
          // The cache carries compressed blobs, as an image export would: convert uncompressed new layers.
          const convert = deps.convert;
          let records = stored;
          if (convert) {
            // One conversion over every chain: a layer shared by records is compressed once.
            const all = await convert(c, stored.flatMap((r) => r.layers));
            let at = 0;
            records = stored.map((r) => ({ ...r, layers: all.slice(at, (at += r.layers.length)) }));
          }
          // A concurrent build's RUN may be writing a mount: take its lock while it is tarred.
          const mounts = spec.cacheMounts ? cacheMountIds(vertices).map((id) => ({ id, dir: cacheMountPath(state.root, id), hold: () => state.lock(`cache-mount-${cacheMountName(id)}`) })) : [];
          const stats = await exportCache(c, spec, {
            records,
            mounts: await existingDirs(mounts),
            content: state.content,
            registry,
            ...(imported ? { ensureBlob: (cc: BuildContext, desc: { digest: LayerRef['blob']; size: number; mediaType: string }) => imported.ensureBlobs(cc, [{ blob: desc.digest, size: desc.size, mediaType: desc.mediaType }]) } : {}),
          });
          report.export.push(stats);
          c.progress.emit({
            type: 'info',
            time: Date.now(),
            message: `cache export to ${stats.destination} (mode=${stats.mode}): ${stats.records} records${stats.mounts ? `, ${stats.mounts} cache mounts` : ''}, ${stats.blobsUploaded} blobs uploaded (${stats.bytesUploaded} bytes)`,
          });
        } catch (err) {
          if (c.signal.aborted) throw err;
          const message = `cache export to ${describeLocation(spec.location)} failed: ${(err as Error).message}`;
          if (!spec.ignoreError) throw new TsbuildError('ERR_TSBUILD_CACHE_EXPORT', message, { cause: err });
          c.progress.emit({ type: 'warning', time: Date.now(), rule: 'CacheExport', message });
        }
      }
      if (imported && localIndex) {
        // Imported records whose blobs this build downloaded become local records: the next
        // build on this machine hits them without --cache-from.
        for (const r of used.values()) {
          if ((await Promise.all(r.layers.map((l) => state.content.has(l.blob)))).every(Boolean)) await localIndex.put(r);
        }
      }
      if (imported) {
        report.import = imported.stats();
        const s = report.import;
        c.progress.emit({ type: 'info', time: Date.now(), message: `cache import: ${s.blobsDownloaded} blobs, ${s.bytesDownloaded} bytes downloaded${s.mountsRestored ? `, ${s.mountsRestored} cache mounts restored` : ''}` });
      }
      return report;
    },
  };
}

async function existingDirs<M extends { dir: string }>(mounts: M[]): Promise<M[]> {
  const out = [];
  for (const m of mounts) if ((await stat(m.dir).catch(() => undefined))?.isDirectory()) out.push(m);
  return out;
}
