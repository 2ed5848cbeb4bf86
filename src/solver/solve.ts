/**
 * solve(): turns a BuildGraph into results. Keys first (cache-key.ts), then a lazy walk from the
 * target: a vertex whose key is in the cache index resolves to the recorded layer chain without
 * touching its inputs; only misses pull their inputs and execute (ops/). When no lookup can hit
 * (`eager`), inputs start without waiting for their consumer's key.
 */
import { isLayerOp, targetLayerSteps, type BuildGraph, type Vertex } from '../graph/index.js';
import type { BuildContext } from '../progress/index.js';
import { TsbuildError } from '../errors/index.js';
import type { Digest } from '../util/digest.js';
import { createCacheKeyCalculator, type ContentChecksums } from './cache-key.js';
import type { CacheIndex } from './cache-index.js';
import { createScheduler } from './scheduler.js';
import type { LayerRef, SolveResult, StepStats, VertexResult } from './types.js';

/** Executes one kind of op. Implementations live in ops/ and are wired by createOpRunners. */
export interface OpExecutor {
  /** Resolves a vertex that needs no execution slot (sources). Undefined = must execute. */
  resolveSource?(ctx: BuildContext, vertex: Vertex, key: Digest): Promise<VertexResult | undefined>;
  execute(ctx: BuildContext, vertex: Vertex, key: Digest, inputs: Map<Digest, VertexResult>, stats: StepStats): Promise<VertexResult>;
}

export interface SolveOptions {
  graph: BuildGraph;
  index: CacheIndex;
  checksums: ContentChecksums;
  executor: OpExecutor;
  /** Returns false when a recorded layer's blob is gone (pruned): the record is then ignored. */
  layersAvailable(result: { layers: LayerRef[] }): Promise<boolean>;
  jobs: number;
  /** Vertices to ignore the cache for (--no-cache, --no-cache-filter). */
  noCache?: (vertex: Vertex) => boolean;
  /** Nothing can be a cache hit (fresh state root and no --cache-from, or --no-cache): see SchedulerOptions.eager. */
  eager?: boolean;
}

export async function solve(ctx: BuildContext, options: SolveOptions): Promise<SolveResult> {
  const { graph, index, executor } = options;
  const keys = createCacheKeyCalculator(graph, options.checksums);
  const results = new Map<Digest, VertexResult>();
  const steps: StepStats[] = [];
  const vertexOf = (d: Digest): Vertex => {
    const v = graph.vertices[d];
    if (!v) throw new TsbuildError('ERR_TSBUILD_INTERNAL', `vertex ${d} missing from the build graph`);
    return v;
  };
  const now = (): number => Date.now();

  const scheduler = createScheduler<VertexResult>(
    {
      inputsOf: (d) => vertexOf(d).inputs,
      async lookup(d, signal) {
        const vertex = vertexOf(d);
        const key = await keys.keyOf(d);
        const sub: BuildContext = { signal, progress: ctx.progress };
        if (executor.resolveSource) {
          const source = await executor.resolveSource(sub, vertex, key);
          if (source) {
            results.set(d, source);
            return source;
          }
        }
        if (!isLayerOp(vertex) || options.noCache?.(vertex) || vertex.meta.ignoreCache) return undefined;
        const record = await index.get(key);
        if (!record || !(await options.layersAvailable(record))) return undefined;
        const result: VertexResult = { key, layers: record.layers, cached: true, created: record.created };
        results.set(d, result);
        steps.push({ vertex: d, name: vertex.meta.name, cached: true, layer: record.layers.at(-1) });
        ctx.progress.emit({ type: 'vertex.cached', time: now(), vertex: d, name: vertex.meta.name, ...(vertex.meta.stage ? { stage: vertex.meta.stage } : {}) });
        return result;
      },
      async execute(d, inputResults, signal) {
        const vertex = vertexOf(d);
        const key = await keys.keyOf(d);
        const inputs = new Map<Digest, VertexResult>();
        vertex.inputs.forEach((input, i) => inputs.set(input, inputResults[i]!));
        const stats: StepStats = { vertex: d, name: vertex.meta.name, cached: false, startedAt: now() };
        const cpu0 = process.cpuUsage();
        const named = isLayerOp(vertex);
        if (named) ctx.progress.emit({ type: 'vertex.start', time: stats.startedAt!, vertex: d, name: vertex.meta.name, ...(vertex.meta.stage ? { stage: vertex.meta.stage } : {}) });
        try {
          const result = await executor.execute({ signal, progress: ctx.progress }, vertex, key, inputs, stats);
          stats.endedAt = now();
          const cpu = process.cpuUsage(cpu0);
          stats.hostCpuMs = Math.round((cpu.user + cpu.system) / 1000);
          result.created = new Date(stats.endedAt).toISOString();
          if (named) {
            steps.push(stats);
            ctx.progress.emit({ type: 'vertex.end', time: stats.endedAt, vertex: d, ok: true, ...(stats.cpuMs !== undefined ? { cpuMs: stats.cpuMs } : {}) });
            await index.put({ key, layers: result.layers, vertex: d, created: result.created });
          }
          results.set(d, result);
          return result;
        } catch (err) {
          if (named) {
            const message = err instanceof Error ? err.message : String(err);
            ctx.progress.emit({ type: 'vertex.end', time: now(), vertex: d, ok: false, error: message });
          }
          throw err;
        }
      },
    },
    { jobs: options.jobs, signal: ctx.signal, eager: options.eager ?? false },
  );

  try {
    // Steps of a --no-cache-filter stage run even when a later step's cache hit means nothing
    // needs their result (BuildKit re-runs the named stage; its consumers may still hit).
    const [target] = await Promise.all([scheduler.solve(graph.target.root), ...targetLayerSteps(graph).filter((v) => v.meta.ignoreCache).map((v) => scheduler.solve(v.digest))]);
    const createdOf = async (d: Digest): Promise<string | undefined> => results.get(d)?.created ?? (graph.vertices[d] ? (await index.get(await keys.keyOf(d)))?.created : undefined);
    return { target, results, steps, createdOf, keyOf: keys.keyOf };
  } catch (err) {
    if (ctx.signal.aborted && !(err instanceof TsbuildError)) {
      throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'build cancelled', { cause: err });
    }
    throw err;
  }
}
