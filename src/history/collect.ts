/**
 * Assembles a BuildRecord from what a build already computed: the graph, the solver's per-step
 * stats and cache keys, and the context checksums the cache keys used (captured as they are
 * made, so recording re-hashes nothing). A no-op rebuild pays for one small JSON write; the
 * previous records are read only when some step missed the cache (to explain why).
 */
import { randomBytes, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { selectEntries, type ContextHasher } from '../context/index.js';
import { targetLayerSteps, type BuildGraph, type Vertex } from '../graph/index.js';
import type { ProgressEvent, ProgressWriter } from '../progress/index.js';
import type { ContentChecksums } from '../solver/cache-key.js';
import type { IdleWork } from '../solver/idle-work.js';
import type { LayerRef, SolveResult, StepStats } from '../solver/types.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { digestHex, digestOf, type Digest } from '../util/digest.js';
import { explainMisses } from './explain.js';
import { contextSummaryFile, pruneContextSummaries, readContextSummary } from './context-summary.js';
import {
  BUILD_RECORD_VERSION,
  historyDir,
  newBuildId,
  writeBuildRecord,
  type BuildRecord,
  type ContextRef,
  type ContextSummary,
  type LayerInfo,
  type StepInput,
  type StepRecord,
} from './record.js';

export interface BuildRecorderOptions {
  root: string;
  dockerfile: string;
  context: string;
  noCache: boolean;
  buildArgs: Record<string, string>;
  hasher: ContextHasher;
  startedAt: number;
  /**
   * Where the context summaries a record refers to are made: queued when their checksum is
   * taken, written while the build waits on its steps (solver/idle-work.ts). Without: at finish.
   */
  idleWork?: Pick<IdleWork, 'add' | 'idle'>;
}

export interface BuildOutcome {
  graph?: BuildGraph;
  solved?: SolveResult;
  /** manifestDigest: only when an image exporter ran (a build without outputs compresses nothing). */
  image?: { manifestDigest?: Digest; configDigest: Digest };
  /** The target's layers (solved.target.layers) with their tars made: those steps are recorded with digests. */
  layers?: LayerRef[];
  error?: unknown;
}

export interface BuildRecorder {
  /** Wraps the context hasher for the cache-key calculator, remembering each checksum. */
  checksums: ContentChecksums;
  /** Sees the build's progress events (times of cache hits, the failing step). */
  tap: ProgressWriter;
  /** Builds, explains and writes the record. Never throws: a record must not fail a build. */
  finish(outcome: BuildOutcome): Promise<BuildRecord | undefined>;
}

const STEP_NAME = /^\[(.+) (\d+)\/(\d+)\] (.*)$/s;

export function createBuildRecorder(options: BuildRecorderOptions): BuildRecorder {
  const sums = new Map<string, { digest: Digest; files: number; bytes: number }>();
  const cachedAt = new Map<string, number>();
  const failed = new Map<string, { time: number; error?: string }>();
  const started = new Map<string, number>();
  const patternsKey = (patterns: string[]): string => JSON.stringify(patterns);

  // Each context summary once, by checksum; kept here, so explaining a miss does not read it back.
  const summaries = new Map<Digest, Promise<ContextSummary>>();
  const summarize = (digest: Digest, patterns: string[]): Promise<ContextSummary> => {
    let p = summaries.get(digest);
    if (!p) {
      p = writeContextSummary(options, digest, patterns);
      summaries.set(digest, p);
    }
    return p;
  };

  const checksum = async (patterns: string[]) => {
    const k = patternsKey(patterns);
    let s = sums.get(k);
    if (!s) {
      s = await options.hasher.checksum(patterns);
      sums.set(k, s);
      const { digest } = s;
      if (options.idleWork && !summaries.has(digest)) {
        const p = options.idleWork.add(() => writeContextSummary(options, digest, patterns));
        p.catch(() => summaries.delete(digest)); // made again at finish
        summaries.set(digest, p);
      }
    }
    return s;
  };

  return {
    checksums: { localChecksum: async (_source, patterns) => (await checksum(patterns)).digest },
    tap: {
      emit(e: ProgressEvent) {
        if (e.type === 'vertex.cached') cachedAt.set(e.vertex, e.time);
        else if (e.type === 'vertex.start') started.set(e.vertex, e.time);
        else if (e.type === 'vertex.end' && !e.ok) failed.set(e.vertex, { time: e.time, ...(e.error !== undefined ? { error: e.error } : {}) });
      },
    },
    async finish(outcome) {
      // What is still queued for the record starts now (nothing else may be left to run it).
      options.idleWork?.idle();
      try {
        const salt = loadSalt(options.root);
        const steps = outcome.graph ? await collectSteps(outcome.graph, outcome.solved, outcome.layers, { salt, buildArgs: options.buildArgs, checksum, cachedAt, started, failed }) : [];
        const endedAt = Date.now();
        const executed = steps.filter((s) => !s.cached);
        const record: BuildRecord = {
          version: BUILD_RECORD_VERSION,
          id: newBuildId(options.startedAt),
          startedAt: options.startedAt,
          endedAt,
          ok: outcome.error === undefined,
          ...(outcome.error !== undefined ? { error: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) } : {}),
          dockerfile: options.dockerfile,
          context: options.context,
          target: outcome.graph?.target.name ?? '',
          noCache: options.noCache,
          buildArgs: Object.keys(options.buildArgs).sort(),
          ...(outcome.image ? { image: outcome.image } : {}),
          steps,
          summary: {
            steps: steps.length,
            cached: steps.length - executed.length,
            executed: executed.length,
            durationMs: endedAt - options.startedAt,
            stepsWallMs: executed.reduce((n, s) => n + s.wallMs, 0),
            cpuMs: executed.reduce((n, s) => n + (s.cpuMs ?? 0), 0),
          },
        };
        for (const ref of steps.flatMap((s) => s.context ?? [])) await summarize(ref.digest, ref.patterns);
        if (executed.length > 0) await explainMisses(options.root, record, (d) => summaries.get(d)?.catch(() => undefined) ?? readContextSummary(options.root, d));
        writeBuildRecord(options.root, record);
        await pruneContextSummaries(options.root);
        return record;
      } catch {
        return undefined;
      }
    },
  };
}

/** history/context/<hex>.json for a context checksum (content-addressed: written once). */
async function writeContextSummary(o: BuildRecorderOptions, digest: Digest, patterns: string[]): Promise<ContextSummary> {
  const entries = selectEntries(await o.hasher.entries(), patterns);
  const summary: ContextSummary = {
    digest,
    entries: entries.map((e) => [e.path, e.type, e.mode, e.uid, e.gid, e.type === 'file' ? (e.hash ?? null) : e.type === 'symlink' ? (e.linkTarget ?? null) : null]),
  };
  const file = contextSummaryFile(o.root, digest);
  if (!existsSync(file)) await writeFileAtomic(file, JSON.stringify(summary));
  return summary;
}

interface CollectContext {
  salt: Buffer;
  buildArgs: Record<string, string>;
  checksum(patterns: string[]): Promise<{ digest: Digest; files: number; bytes: number }>;
  cachedAt: Map<string, number>;
  started: Map<string, number>;
  failed: Map<string, { time: number; error?: string }>;
}

const readsContext = (graph: BuildGraph, v: Vertex): boolean =>
  v.op.kind === 'file' && v.op.actions.some((a) => a.action === 'copy' && graph.vertices[a.from]?.op.kind === 'source.local');

/** `<stage>/<position>` and the parts of the progress name. */
export function stepIdentity(v: Vertex): { id: string; stage: string; position: number; instruction: string } {
  const m = STEP_NAME.exec(v.meta.name);
  const stage = v.meta.stage ?? m?.[1] ?? '';
  if (!m) return { id: `${stage}/${digestHex(v.digest).slice(0, 12)}`, stage, position: 0, instruction: v.meta.name };
  return { id: `${stage}/${m[2]}`, stage, position: Number(m[2]), instruction: m[4]! };
}

async function collectSteps(graph: BuildGraph, solved: SolveResult | undefined, layers: LayerRef[] | undefined, c: CollectContext): Promise<StepRecord[]> {
  const vertices = targetLayerSteps(graph);
  // Layer sizes and change counts are measured when the build waits (solver/idle-work.ts).
  await Promise.all((solved?.steps ?? []).map((s) => s.measured));
  const stats = new Map<string, StepStats>((solved?.steps ?? []).map((s) => [s.vertex, s]));
  const ids = new Map(vertices.map((v) => [v.digest, stepIdentity(v)]));
  // Pending layers of the target chain that got their tars for the export, by layer id.
  const made = new Map<Digest, LayerRef>();
  solved?.target.layers.forEach((l, i) => {
    const real = layers?.[i];
    if (l.pending && real && !real.pending) made.set(l.diffId, real);
  });
  const keyOf = async (d: Digest): Promise<Digest | undefined> => (solved ? solved.keyOf(d).catch(() => undefined) : undefined);
  const envNames = new Map(graph.stages.map((s) => [s.name, new Set((s.config.Env ?? []).map((e) => e.slice(0, e.indexOf('='))))]));
  const out: StepRecord[] = [];
  for (const v of vertices) {
    const ident = ids.get(v.digest)!;
    const st = stats.get(v.digest);
    const fail = c.failed.get(v.digest);
    const cache = st ? (st.cached ? 'hit' : 'miss') : fail || c.started.has(v.digest) ? 'miss' : 'skipped';
    const startedAt = st?.startedAt ?? c.cachedAt.get(v.digest) ?? c.started.get(v.digest);
    const endedAt = st?.endedAt ?? c.cachedAt.get(v.digest) ?? fail?.time;
    const step: StepRecord = {
      id: ident.id,
      vertex: v.digest,
      cacheKey: (await keyOf(v.digest)) ?? v.digest,
      name: v.meta.name,
      instruction: ident.instruction,
      kind: v.op.kind as 'exec' | 'file',
      stage: ident.stage,
      position: ident.position,
      ...(v.meta.location ? { line: v.meta.location.startLine, endLine: v.meta.location.endLine } : {}),
      cache,
      ...(v.meta.ignoreCache ? { ignoreCache: true } : {}),
      cached: cache !== 'miss',
      ...(startedAt !== undefined ? { startedAt } : {}),
      ...(endedAt !== undefined ? { endedAt } : {}),
      wallMs: cache === 'miss' && startedAt !== undefined && endedAt !== undefined ? endedAt - startedAt : 0,
      ...(st?.cpuMs !== undefined ? { cpuMs: st.cpuMs } : {}),
      ...(st?.hostCpuMs !== undefined && !st.cached ? { hostCpuMs: st.hostCpuMs } : {}),
      // applyFileOp counts every byte it copies; only copies from the build context are context reads.
      ...(st?.contextBytes !== undefined && readsContext(graph, v) ? { contextBytes: st.contextBytes, contextFiles: st.contextFiles ?? 0 } : {}),
      ...(st?.layer ? { layer: layerInfo(st.layer, made, st.layerSize) } : {}),
      ...(st?.changes ? { changes: st.changes } : {}),
      inputs: await stepInputs(graph, v, ids, keyOf),
      definition: definitionDigest(v),
      ...(fail?.error !== undefined ? { error: fail.error } : {}),
    };
    if (v.op.kind === 'exec') {
      step.network = v.op.network;
      const env: Record<string, string> = {};
      const source: Record<string, 'build-arg' | 'arg' | 'env'> = {};
      const stageEnv = envNames.get(ident.stage);
      for (const kv of v.op.env) {
        const eq = kv.indexOf('=');
        const name = eq === -1 ? kv : kv.slice(0, eq);
        env[name] = createHmac('sha256', c.salt).update(eq === -1 ? '' : kv.slice(eq + 1)).digest('hex').slice(0, 16);
        source[name] = stageEnv?.has(name) ? 'env' : Object.hasOwn(c.buildArgs, name) ? 'build-arg' : 'arg';
      }
      step.env = env;
      step.envSource = source;
    }
    // The context checksums in the key, in the order cache-key.ts adds them: COPY/ADD sources,
    // and RUN --mount=type=bind from the context.
    const reads: string[][] = [];
    if (v.op.kind === 'file') {
      for (const a of v.op.actions) if (a.action === 'copy' && graph.vertices[a.from]?.op.kind === 'source.local') reads.push(a.src);
    } else if (v.op.kind === 'exec') {
      for (const m of v.op.mounts) if (m.type === 'bind' && graph.vertices[m.input]?.op.kind === 'source.local') reads.push([m.source]);
    }
    const refs: ContextRef[] = [];
    for (const patterns of reads) {
      const sum = await c.checksum(patterns);
      refs.push({ patterns, digest: sum.digest, files: sum.files, bytes: sum.bytes });
    }
    if (refs.length > 0) step.context = refs;
    out.push(step);
  }
  return out;
}

/** A step's layer for its record; a pending one has no digests yet (solver/pending-layers.ts). */
function layerInfo(recorded: LayerRef, made: Map<Digest, LayerRef>, uncompressedSize: number | undefined): LayerInfo {
  const size = uncompressedSize !== undefined ? { uncompressedSize } : {};
  const layer = (recorded.pending && made.get(recorded.diffId)) || recorded;
  if (layer.pending) return { mediaType: layer.mediaType, size: 0, pending: true, ...size };
  return { diffId: layer.diffId, blob: layer.blob, mediaType: layer.mediaType, size: layer.size, ...size };
}

async function stepInputs(graph: BuildGraph, v: Vertex, ids: Map<string, { id: string }>, keyOf: (d: Digest) => Promise<Digest | undefined>): Promise<StepInput[]> {
  const refOf = (d: Digest): string => {
    const step = ids.get(d);
    if (step) return step.id;
    const op = graph.vertices[d]?.op;
    switch (op?.kind) {
      case 'source.image':
        return `image:${op.ref}`;
      case 'source.local':
        return op.name;
      case 'source.http':
        return `http:${op.url}`;
      case 'source.scratch':
        return 'scratch';
      default:
        return d;
    }
  };
  const roles: Array<[Digest, StepInput['role']]> = [];
  const op = v.op;
  if (op.kind === 'exec') {
    roles.push([op.root, 'root']);
    for (const m of op.mounts) if ((m.type === 'bind' || m.type === 'cache') && m.input) roles.push([m.input, 'mount']);
  } else if (op.kind === 'file') {
    if (op.root) roles.push([op.root, 'root']);
    for (const a of op.actions) if (a.action === 'copy') roles.push([a.from, 'copy']);
  }
  const out: StepInput[] = [];
  const seen = new Set<string>();
  for (const [d, role] of roles) {
    if (seen.has(`${d}|${role}`)) continue;
    seen.add(`${d}|${role}`);
    out.push({ ref: refOf(d), key: (await keyOf(d)) ?? d, role });
  }
  return out;
}

/** The op without its inputs' identities and its environment: what "the step's options" are. */
function definitionDigest(v: Vertex): Digest {
  const json = JSON.stringify(v.op.kind === 'exec' ? { ...v.op, env: [] } : v.op).replace(/sha256:[a-f0-9]{64}/g, 'input');
  return digestOf(JSON.parse(json));
}

/** A per-state-root secret for env value hashes: records never hold values, and equal values compare equal. */
function loadSalt(root: string): Buffer {
  const file = path.join(historyDir(root), '.salt');
  try {
    return readFileSync(file);
  } catch {
    const salt = randomBytes(32);
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      // 'wx': two first builds racing keep whichever salt was written first.
      try {
        writeFileSync(file, salt, { flag: 'wx', mode: 0o600 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      return readFileSync(file);
    } catch {
      return salt;
    }
  }
}

