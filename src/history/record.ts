/**
 * Build records: one JSON file per build under <root>/history/<id>.json, written atomically
 * (temp + rename) at the end of every build, the oldest pruned past a bound. A record says what
 * each step of the build cost (wall and CPU time, context bytes read, layer sizes, files
 * changed) and what its cache key was made of, so a later build can say why its cache missed.
 *
 * This file is the format's contract: other tools (`tsbuild bench`, `tsbuild history`) read
 * records through readBuildRecords/readBuildRecord only. Fields are only ever added; a change
 * that breaks readers bumps BUILD_RECORD_VERSION (readers skip records of other versions).
 */
import fs, { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../util/atomic-file.js';
import type { Digest } from '../util/digest.js';

export const BUILD_RECORD_VERSION = 1 as const;
/** How many records a state root keeps; the oldest are removed when a build adds one past it. */
export const MAX_BUILD_RECORDS = 100;

/** One build, as `tsbuild history` shows it. Times are epoch milliseconds. */
export interface BuildRecord {
  version: typeof BUILD_RECORD_VERSION;
  /** Sortable id: base-36 start time + random suffix (file names sort oldest first). */
  id: string;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** The error message of a failed build. */
  error?: string;
  /** Absolute path of the Dockerfile. */
  dockerfile: string;
  /** Absolute path of the build context. */
  context: string;
  /** The stage built (--target, or the last stage). */
  target: string;
  /**
   * Answered by the up-to-date check (uptodate/), without planning or solving: the record is the
   * one a build finding the target's result in the cache writes, with this run's id and times.
   */
  upToDate?: true;
  /** `--no-cache` was given. */
  noCache: boolean;
  /** Names of the --build-arg values given. Values are never stored. */
  buildArgs: string[];
  /** The built image (successful builds). */
  /** manifestDigest: only when an image exporter ran (a build without outputs compresses nothing). */
  image?: { manifestDigest?: Digest; configDigest: Digest };
  /**
   * Every layer step the target needs, in graph order (inputs before the steps that read them).
   * Base-image and context sources are not steps.
   */
  steps: StepRecord[];
  summary: BuildSummary;
}

/** Totals of a build (also written to --metadata-file as `tsbuild.build`). */
export interface BuildSummary {
  /** Layer steps the target needs. */
  steps: number;
  /** Steps resolved from the cache, including steps a later cache hit made unnecessary. */
  cached: number;
  /** Steps executed in this build. */
  executed: number;
  /** Wall time of the whole build (parse to export), ms. */
  durationMs: number;
  /** Sum of the executed steps' wall times, ms. */
  stepsWallMs: number;
  /** Sum of the executed steps' cpuMs (see StepRecord.cpuMs), ms. */
  cpuMs: number;
}

/**
 * Whether a step's result came from the cache:
 * - `hit`: its cache key was found in the cache index;
 * - `skipped`: a later step's cache hit made this step's result unnecessary (it was not even
 *   looked up: BuildKit shows these as CACHED too);
 * - `miss`: it was executed in this build.
 */
export type StepCacheState = 'hit' | 'skipped' | 'miss';

/** One layer step (RUN, COPY/ADD, WORKDIR-mkdir) of a build. */
export interface StepRecord {
  /**
   * The step's identity across builds of the same Dockerfile: `<stage>/<position>`, e.g.
   * `build/3` for the third layer-or-metadata instruction of stage `build` (as in the progress
   * name `[build 3/5]`). Explanations compare steps with equal ids.
   */
  id: string;
  /** Digest of the step's op (its definition). */
  vertex: Digest;
  /** The cache key it was looked up under (definition + inputs' keys + context checksums). */
  cacheKey: Digest;
  /** Progress name, e.g. `[build 3/5] RUN make`. */
  name: string;
  /** The instruction text as written (continuations joined), e.g. `RUN make`. */
  instruction: string;
  /** `exec` (RUN) or `file` (COPY, ADD, WORKDIR's mkdir). */
  kind: 'exec' | 'file';
  stage: string;
  /** 1-based position of the instruction in its stage (the `3` of `[build 3/5]`). */
  position: number;
  /** Dockerfile lines of the instruction. */
  line?: number;
  endLine?: number;
  cache: StepCacheState;
  /** --no-cache or --no-cache-filter kept this step from using the cache. */
  ignoreCache?: boolean;
  /** `cache !== 'miss'`. */
  cached: boolean;
  /** When the step started and ended (executed steps), or when its cache hit was found. */
  startedAt?: number;
  endedAt?: number;
  /** endedAt - startedAt for executed steps; 0 for cached ones. */
  wallMs: number;
  /**
   * CPU time (user + system, ms) of the child processes that ended while the step ran: for RUN,
   * runc and everything the command ran in the container. Measured from tsbuild's own
   * cutime/cstime (/proc/self/stat, 10 ms ticks), so with parallel steps a step may also be
   * charged with another child that ended during it. Absent for steps that run no process.
   */
  cpuMs?: number;
  /**
   * CPU time (ms) of the tsbuild process itself during the step: copying, hashing, diffing and
   * compressing the layer. Process-wide, so parallel steps share it.
   */
  hostCpuMs?: number;
  /** Bytes and files read from the build context (COPY/ADD from the context). */
  contextBytes?: number;
  contextFiles?: number;
  /** The layer the step added (also for cache hits: the recorded layer). */
  layer?: LayerInfo;
  /** Entries the layer adds, changes and deletes (executed steps: from the layer diff). */
  changes?: { added: number; changed: number; deleted: number };
  /** What the cache key was made of, for explanations. */
  inputs: StepInput[];
  /** Digest of the definition without inputs and environment (flags, paths, mounts, user...). */
  definition: Digest;
  /** A RUN's network mode (its own --network, else the build's), to name that change. */
  network?: string;
  /**
   * RUN environment (ARG and ENV values in scope) as NAME -> keyed hash of the value. Values
   * are never stored: the hash uses a per-state-root secret (history/.salt).
   */
  env?: Record<string, string>;
  /** Where each env name came from: `build-arg` (given with --build-arg), `arg` or `env`. */
  envSource?: Record<string, 'build-arg' | 'arg' | 'env'>;
  /** Context files each COPY/ADD action (or RUN bind mount of the context) read: a digest naming a ContextSummary file. */
  context?: ContextRef[];
  /** The error of the step that failed the build. */
  error?: string;
  /** Why the cache missed (misses only; see explain.ts). */
  explain?: CacheMissCause[];
}

export interface LayerInfo {
  /** Absent while the layer is `pending`. */
  diffId?: Digest;
  blob?: Digest;
  mediaType: string;
  /** Stored size in bytes: the blob in the content store (the tar itself for a new layer, which is stored uncompressed); 0 while pending. */
  size: number;
  /**
   * The layer exists only as its snapshot dir: its tar is made when an export needs it (layers
   * of stages that are not exported never get one), so it has no digests yet.
   */
  pending?: true;
  /** Uncompressed tar size in bytes (executed steps; unknown for cache hits made by older builds). */
  uncompressedSize?: number;
}

/** A parent of a step: another step, a base image, the context, or scratch. */
export interface StepInput {
  /** A step id (`build/2`), `image:<ref>`, `context`, `scratch` or `http:<url>`. */
  ref: string;
  /** The input's cache key in this build. */
  key: Digest;
  /** How the step uses it. */
  role: 'root' | 'copy' | 'mount';
}

/** The context files one COPY/ADD action read. */
export interface ContextRef {
  /** The source patterns of the action. */
  patterns: string[];
  /** The content checksum in the cache key; names history/context/<hex>.json. */
  digest: Digest;
  files: number;
  bytes: number;
}

/** history/context/<hex>.json: the entries behind a ContextRef digest, for file-level diffs. */
export interface ContextSummary {
  digest: Digest;
  /** [path, type, mode, uid, gid, content sha256 or symlink target] sorted by path. */
  entries: Array<[string, 'file' | 'dir' | 'symlink' | 'other', number, number, number, string | null]>;
}

/** One named cause of a cache miss. */
export interface CacheMissCause {
  kind:
    | 'no-previous'
    | 'no-cache'
    | 'instruction'
    | 'build-arg'
    | 'env'
    | 'parent'
    | 'base-image'
    | 'context'
    | 'definition'
    | 'evicted'
    | 'unknown';
  /** One line for people, e.g. `build arg VERSION changed`. Never holds a secret value. */
  text: string;
  /** The id of the build compared with. */
  previousBuild?: string;
  /** Machine detail: variable names, parent step ids, context file changes. */
  names?: string[];
  files?: ContextFileChange[];
}

export interface ContextFileChange {
  path: string;
  how: 'added' | 'removed' | 'content' | 'mode' | 'owner' | 'type';
  /** e.g. `0644 -> 0755` or `0:0 -> 1000:1000`. */
  detail?: string;
}

export function historyDir(root: string): string {
  return path.join(root, 'history');
}

/** A new sortable record id. */
export function newBuildId(now: number = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
}

function isRecordFile(name: string): boolean {
  return /^[0-9a-z]{13}\.json$/.test(name);
}

/**
 * Writes a record atomically and prunes the oldest past MAX_BUILD_RECORDS. Synchronous (a file
 * of a few KB and a listing of at most ~100 names): the up-to-date check writes the records of
 * the builds it answers before Node's promise-based fs is even loaded.
 */
export function writeBuildRecord(root: string, record: BuildRecord, options: { max?: number } = {}): string {
  const dir = historyDir(root);
  const file = path.join(dir, `${record.id}.json`);
  writeFileAtomicSync(file, JSON.stringify(record));
  const max = options.max ?? MAX_BUILD_RECORDS;
  const names = readdirSync(dir).filter(isRecordFile).sort();
  for (const name of names.slice(0, Math.max(0, names.length - max))) rmSync(path.join(dir, name), { force: true });
  return file;
}

/** A finished build's record without its id and times: the record of a rebuild the up-to-date check answers. */
export type AnsweredBuildRecord = Omit<BuildRecord, 'id' | 'startedAt' | 'endedAt'>;

/**
 * What a rebuild of `r` that finds the target's result in the cache records (and so what one the
 * up-to-date check answers records): the target's step a cache hit with its layer, the other
 * steps skipped, nothing executed or measured. `target` is the target's step vertex, if any.
 */
export function answeredRecordOf(r: BuildRecord, target: Digest | undefined): AnsweredBuildRecord {
  const steps = r.steps.map((s): StepRecord => {
    const { startedAt, endedAt, cpuMs, hostCpuMs, contextBytes, contextFiles, changes, explain, error, layer, ...kept } = s;
    const hit = s.vertex === target;
    if (!hit || !layer) return { ...kept, cache: 'skipped', cached: true, wallMs: 0 };
    // A cache hit's layer is the recorded one, not measured (collect.ts layerInfo).
    const { uncompressedSize, ...recorded } = layer;
    return { ...kept, cache: 'hit', cached: true, wallMs: 0, layer: recorded };
  });
  const { id, startedAt, endedAt, ...rest } = r;
  return { ...rest, steps, summary: { steps: steps.length, cached: steps.length, executed: 0, durationMs: 0, stepsWallMs: 0, cpuMs: 0 } };
}

/** Records an answered rebuild that ran from `startedAt` to now. */
export function writeAnsweredRecord(root: string, answered: AnsweredBuildRecord, startedAt: number, endedAt: number = Date.now()): string {
  return writeBuildRecord(root, { ...answered, id: newBuildId(startedAt), startedAt, endedAt, upToDate: true, summary: { ...answered.summary, durationMs: endedAt - startedAt } });
}

/** Records, newest first. Unreadable records and records of another version are skipped. */
export async function readBuildRecords(root: string, options: { limit?: number } = {}): Promise<BuildRecord[]> {
  const dir = historyDir(root);
  const names = (await fs.promises.readdir(dir).catch(() => [] as string[])).filter(isRecordFile).sort().reverse();
  const out: BuildRecord[] = [];
  for (const name of names) {
    if (options.limit !== undefined && out.length >= options.limit) break;
    const r = await readRecordFile(path.join(dir, name));
    if (r) out.push(r);
  }
  return out;
}

/** Records newest first, read one at a time (callers that stop early read no more files). */
export async function* iterateBuildRecords(root: string): AsyncGenerator<BuildRecord> {
  const dir = historyDir(root);
  const names = (await fs.promises.readdir(dir).catch(() => [] as string[])).filter(isRecordFile).sort().reverse();
  for (const name of names) {
    const r = await readRecordFile(path.join(dir, name));
    if (r) yield r;
  }
}

/** One record by id or unique id prefix; undefined when none matches. */
export async function readBuildRecord(root: string, id: string): Promise<BuildRecord | undefined> {
  const dir = historyDir(root);
  const names = (await fs.promises.readdir(dir).catch(() => [] as string[])).filter((n) => isRecordFile(n) && n.startsWith(id));
  if (names.length !== 1) return undefined;
  return readRecordFile(path.join(dir, names[0]!));
}

async function readRecordFile(file: string): Promise<BuildRecord | undefined> {
  try {
    const r = JSON.parse(await fs.promises.readFile(file, 'utf8')) as BuildRecord;
    return r.version === BUILD_RECORD_VERSION ? r : undefined;
  } catch {
    return undefined;
  }
}
