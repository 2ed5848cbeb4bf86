/**
 * `tsbuild bench`: times a project's builds in the four scenarios that decide how a layering
 * feels day to day — cold (fresh state root, base images already local and unpacked), no-op
 * (warm rebuild), touch (the edit file's mtime changes, its content does not) and edit (one byte
 * appended to it) — N runs each, and reports medians with the run-to-run spread, per scenario
 * and per step.
 *
 * Every build is a child process running the tsbuild CLI, so the numbers include what users
 * pay (Node start-up, module loading, the state-root lock). The project is copied to a temp
 * directory (or generated there by its gen-context.sh), so the user's files are never touched;
 * each run gets its own state root. The roots are removed only after the last build, never
 * between runs: on ext4 without a journal, inodes freed in the last minute or so are skipped one
 * by one by every file creation in their block group, and removing a run's root (~5,700 inodes
 * for ../shared/peers/bench) made the next run's RUN steps pay for it (300 small files: ~0.2 s
 * instead of ~0.05 s). With a work dir of the caller's (`workDir`) nothing is removed, so its
 * roots can be read afterwards (`tsbuild history --root DIR/root-N`).
 */
import { spawn } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { appendFile, copyFile, cp, mkdir, mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateRoot, type ImageRecord } from '../cache/index.js';
import { createIgnoreMatcher, readDockerignore } from '../context/index.js';
import { TsbuildError } from '../errors/index.js';
import { readBuildRecords } from '../history/index.js';
import { normalizeReference } from '../oci/index.js';
import { copyLocalImage, inspectBenchProject, unpackLocalImage } from './bench-project.js';

export const SCENARIOS = ['cold', 'noop', 'touch', 'edit'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  /** Project directory (the build context, or the directory holding gen-context.sh). */
  path: string;
  /** Dockerfile (default: <path>/Dockerfile). */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  runs?: number;
  /** Context-relative file for the touch and edit scenarios (default: see inspectBenchProject). */
  editFile?: string;
  /** Script that writes the context into the directory given as its argument (default: <path>/gen-context.sh when it exists). */
  genContext?: string;
  /** How to run the CLI: [node, ...execArgv, bin/tsbuild.js]. */
  tsbuild: string[];
  /** The user's state root: base images are copied from it into each cold root. */
  root?: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Progress lines (one per build). */
  log?: (line: string) => void;
  /** Keep the context copy and each run's state root (root-N) here: a new or empty dir, left in place. */
  workDir?: string;
}

/** Spread of a set of samples (seconds). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface StepStats extends Spread {
  /** Runs in which the step came from the cache. */
  cachedRuns: number;
}

export interface BenchReport {
  schemaVersion: 1;
  /** Always `child-process`: every build is a separate `tsbuild build` process. */
  mode: 'child-process';
  runs: number;
  project: string;
  dockerfile: string;
  /** The context was made by this generator script (else copied from `project`). */
  generatedBy?: string;
  editFile: string;
  /** Base images copied into each cold root (`missing`: not in the user's root; cold pulls them). */
  baseImages: Array<{ ref: string; local: boolean }>;
  /** Where per-step times came from: the build records, or the progress events. */
  stepSource: 'build-record' | 'progress-events';
  /** Wall seconds of the whole `tsbuild build` process. */
  scenarios: Record<Scenario, Spread>;
  /** Per step (progress name), wall seconds of the step; 0 when it came from the cache. */
  steps: Array<{ name: string; scenarios: Partial<Record<Scenario, StepStats>> }>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spreadOf(samples: number[]): Spread {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

interface StepSample {
  name: string;
  seconds: number;
  cached: boolean;
}

/** Per-step times from `--progress=rawjson` events (used until/unless a build record exists). */
export function stepsFromEvents(stderr: string): StepSample[] {
  const names = new Map<string, string>();
  const started = new Map<string, number>();
  const out: StepSample[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: { type?: string; vertex?: string; name?: string; time?: number };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    if (e.type === 'vertex.start' && e.vertex) {
      names.set(e.vertex, e.name ?? e.vertex);
      started.set(e.vertex, e.time ?? 0);
    } else if (e.type === 'vertex.cached' && e.vertex) {
      out.push({ name: e.name ?? e.vertex, seconds: 0, cached: true });
    } else if (e.type === 'vertex.end' && e.vertex && started.has(e.vertex)) {
      out.push({ name: names.get(e.vertex)!, seconds: ((e.time ?? 0) - started.get(e.vertex)!) / 1000, cached: false });
    }
  }
  return out;
}

interface BuildRun {
  seconds: number;
  steps: StepSample[];
  fromRecord: boolean;
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const runs = options.runs ?? 3;
  if (!Number.isInteger(runs) || runs < 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `--runs takes a positive number, got ${runs}`);
  const project = path.resolve(options.path);
  if (!(await stat(project).catch(() => undefined))?.isDirectory()) throw new TsbuildError('ERR_TSBUILD_CONTEXT_NOT_FOUND', `"${options.path}" is not a directory`);
  const log = options.log ?? (() => {});
  const buildArgs = options.buildArgs ?? {};
  const genDefault = path.join(project, 'gen-context.sh');
  const generator = options.genContext ? path.resolve(options.genContext) : (await stat(genDefault).catch(() => undefined))?.isFile() ? genDefault : undefined;
  const dockerfileSrc = path.resolve(project, options.dockerfile ?? 'Dockerfile');

  const work = options.workDir ? await emptyWorkDir(options.workDir) : await mkdtemp(path.join(os.tmpdir(), 'tsbuild-bench-'));
  try {
    const ctx = path.join(work, 'ctx');
    if (generator) await runChild('bash', [generator, ctx], { env: options.env, signal: options.signal }, 'context generator');
    else await copyProject(project, ctx, dockerfileSrc);
    // A Dockerfile inside the project is used from the copy; one outside is only read.
    const inside = !generator && !path.relative(project, dockerfileSrc).startsWith('..');
    const dockerfile = inside ? path.join(ctx, path.relative(project, dockerfileSrc)) : dockerfileSrc;

    const info = await inspectBenchProject({ context: ctx, dockerfile, buildArgs, target: options.target });
    const editFile = options.editFile ?? info.editFile;
    if (!editFile) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'no COPY/ADD reads a file of the build context; name the file to edit with --edit FILE');
    const editPath = path.join(ctx, editFile);
    if (!(await stat(editPath).catch(() => undefined))?.isFile()) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `--edit ${editFile}: no such file in the build context`);
    const pristine = path.join(work, 'edit-file.orig');
    await copyFile(editPath, pristine);
    const pristineStat = await stat(editPath);

    const user = await openStateRoot({ root: options.root, env: options.env });
    const bases: Array<{ ref: string; local: boolean }> = [];
    const baseRecords: ImageRecord[] = [];
    for (const ref of info.baseImages) {
      const rec = await user.images.get(normalizeReference(ref));
      bases.push({ ref, local: rec !== undefined });
      if (rec) baseRecords.push(rec);
    }

    const samples: Record<Scenario, BuildRun[]> = { cold: [], noop: [], touch: [], edit: [] };
    const buildArgv = ['build', '--progress=rawjson', '-f', dockerfile, ...Object.entries(buildArgs).map(([k, v]) => `--build-arg=${k}=${v}`), ...(options.target ? ['--target', options.target] : []), ctx];
    for (let run = 1; run <= runs; run++) {
      await copyFile(pristine, editPath);
      await utimes(editPath, pristineStat.atime, pristineStat.mtime);
      const root = path.join(work, `root-${run}`);
      await mkdir(root, { recursive: true });
      const fresh = await openStateRoot({ root, env: {} });
      for (const rec of [...baseRecords]) {
        // A record whose blobs are gone (pruned) cannot be copied: the cold build pulls it instead.
        // Stored and unpacked, as `docker pull` leaves it for BuildKit's cold build.
        await copyLocalImage(user, fresh, rec)
          .then(() => unpackLocalImage(fresh, rec))
          .catch(() => {
            baseRecords.splice(baseRecords.indexOf(rec), 1);
            for (const b of bases) if (normalizeReference(b.ref) === rec.name) b.local = false;
          });
      }
      const build = async (scenario: Scenario) => {
        const r = await timedBuild(options.tsbuild, buildArgv, root, options);
        samples[scenario].push(r);
        log(`run ${run}/${runs} ${scenario.padEnd(5)} ${r.seconds.toFixed(3)} s`);
      };
      await build('cold');
      await build('noop');
      const later = new Date(Math.max(Date.now(), pristineStat.mtimeMs) + 60_000 * run);
      await utimes(editPath, later, later);
      await build('touch');
      await appendFile(editPath, '\n');
      await build('edit');
    }

    const stepNames: string[] = [];
    const bySteps = new Map<string, Partial<Record<Scenario, StepSample[]>>>();
    for (const s of SCENARIOS)
      for (const r of samples[s])
        for (const st of r.steps) {
          if (!bySteps.has(st.name)) {
            bySteps.set(st.name, {});
            stepNames.push(st.name);
          }
          (bySteps.get(st.name)![s] ??= []).push(st);
        }
    // A build that ran no step hit the cache for all it needed, though its events name only the
    // step it looked up (a cache hit on the last step, or an up-to-date answer): the steps it
    // does not name count as cached in it.
    for (const s of SCENARIOS)
      for (const r of samples[s]) {
        if (!r.steps.every((st) => st.cached)) continue;
        const named = new Set(r.steps.map((st) => st.name));
        for (const name of stepNames) if (!named.has(name)) (bySteps.get(name)![s] ??= []).push({ name, seconds: 0, cached: true });
      }
    return {
      schemaVersion: 1,
      mode: 'child-process',
      runs,
      project,
      dockerfile: dockerfileSrc,
      ...(generator ? { generatedBy: generator } : {}),
      editFile,
      baseImages: bases,
      stepSource: SCENARIOS.every((s) => samples[s].every((r) => r.fromRecord)) ? 'build-record' : 'progress-events',
      scenarios: Object.fromEntries(SCENARIOS.map((s) => [s, spreadOf(samples[s].map((r) => r.seconds))])) as Record<Scenario, Spread>,
      steps: stepNames.map((name) => ({
        name,
        scenarios: Object.fromEntries(
          Object.entries(bySteps.get(name)!).map(([s, xs]) => [s, { ...spreadOf(xs.map((x) => x.seconds)), cachedRuns: xs.filter((x) => x.cached).length }]),
        ),
      })),
    };
  } finally {
    if (!options.workDir) await rm(work, { recursive: true, force: true });
  }
}

/** A work dir given by the caller: made when missing; one holding anything is refused (never overwritten). */
async function emptyWorkDir(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  const names = await mkdir(abs, { recursive: true })
    .then(() => readdir(abs))
    .catch((cause: NodeJS.ErrnoException) => {
      throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `--work-dir ${dir}: ${cause.code === 'EEXIST' || cause.code === 'ENOTDIR' ? 'not a directory' : cause.message}`, { cause });
    });
  if (names.length > 0) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `--work-dir ${dir} is not empty`, { hint: 'name a new or empty directory' });
  return abs;
}

/**
 * Copies the project, leaving out what .dockerignore excludes (a build never reads it, and an
 * ignored node_modules can be most of a project); the Dockerfile and ignore files always come.
 */
async function copyProject(project: string, dest: string, dockerfile: string): Promise<void> {
  const matcher = createIgnoreMatcher((await readDockerignore(project, dockerfile)).patterns);
  const keep = new Set([path.relative(project, dockerfile), `${path.relative(project, dockerfile)}.dockerignore`, '.dockerignore']);
  await cp(project, dest, {
    recursive: true,
    preserveTimestamps: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = path.relative(project, src).split(path.sep).join('/');
      return rel === '' || keep.has(rel) || [...keep].some((k) => k.startsWith(`${rel}/`)) || !matcher.excludes(rel, lstatSync(src).isDirectory());
    },
  });
}

async function timedBuild(tsbuild: string[], argv: string[], root: string, options: BenchOptions): Promise<BuildRun> {
  const [previous] = await readBuildRecords(root, { limit: 1 }).catch(() => []);
  const start = process.hrtime.bigint();
  const { stderr } = await runChild(tsbuild[0]!, [...tsbuild.slice(1), ...argv], { env: { ...options.env, TSBUILD_ROOT: root }, signal: options.signal }, 'tsbuild build');
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // The build record (when this tsbuild writes one) has the solver's own per-step times.
  // A build the up-to-date check answered writes one too (every step cached); a build that wrote
  // none (it failed to) leaves an earlier build's as the newest.
  const [record] = await readBuildRecords(root, { limit: 1 }).catch(() => []);
  if (record && record.id !== previous?.id) {
    return { seconds, fromRecord: true, steps: record.steps.map((s) => ({ name: s.name, seconds: s.wallMs / 1000, cached: s.cached })) };
  }
  return { seconds, fromRecord: false, steps: stepsFromEvents(stderr) };
}

function runChild(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined }, what: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const onAbort = () => child.kill('SIGINT');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (cause) => reject(new TsbuildError('ERR_TSBUILD_BENCH_BUILD', `${what} could not start: ${cause.message}`, { cause })));
    child.on('close', (status) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) return reject(new TsbuildError('ERR_TSBUILD_CANCELLED', `${what} was cancelled`));
      if (status === 0) return resolve({ stdout, stderr });
      const tail = stderr
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('{"type":"vertex.') && !l.startsWith('{"type":"build.start'))
        .slice(-15)
        .join('\n');
      reject(new TsbuildError('ERR_TSBUILD_BENCH_BUILD', `${what} exited with status ${status}:\n${tail}`));
    });
  });
}
