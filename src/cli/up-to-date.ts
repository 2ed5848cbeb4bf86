/**
 * The up-to-date check of `tsbuild build` (src/uptodate/): bin/tsbuild.js calls
 * answerUpToDate() before it loads the build code, and a build invocation whose record still
 * holds is answered here, with the progress events a full build that hits the cache for its
 * target shows, through the same renderers. Anything else (another command, flags the record
 * cannot speak for, a changed input, any error) returns false and the full CLI runs.
 *
 * Eligible invocations name only a context, -f, -t, --target, --build-arg, --progress/-q,
 * --iidfile and --root; the record itself is written only by builds that need nothing but the local cache and
 * image store (api.ts).
 */
import { fstatSync, realpathSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { resolveStateRootDir } from '../cache/root-dir.js';
import { writeAnsweredRecord } from '../history/record.js';
import { stamp } from '../progress/index.js';
import { isUpToDate } from '../uptodate/check.js';
import { invocationKey, readUpToDateRecord, refreshUpToDateListing, upToDateEnabled, upToDateFile, type Invocation, type UpToDateRecord } from '../uptodate/record.js';
import { parseArgs, type ParsedArgs } from './args.js';
import { parseBuildArgs } from './build-args.js';
import { buildOptions } from './commands/build-options.js';
import { createProgressRenderer, type ProgressMode } from './progress-mode.js';

/** Options an up-to-date record can stand for; any other set means a full build. */
const ELIGIBLE = new Set(['file', 'tag', 'target', 'build-arg', 'progress', 'quiet', 'root', 'iidfile']);

/**
 * The tsbuild that runs: the sizes and times of its built files. Another build of tsbuild may
 * plan differently, so its records do not count.
 */
export function toolIdentity(): string {
  const launcher = process.argv[1] ? realpathSync(process.argv[1]) : '';
  const dist = path.resolve(path.dirname(launcher), '..', 'dist');
  return ['bundle/main.cjs', 'bundle/up-to-date.cjs', 'cli/main.js']
    .map((f) => {
      const st = statSync(path.join(dist, f), { throwIfNoEntry: false });
      return st ? `${st.size}:${st.mtimeMs}` : '-';
    })
    .join(' ');
}

/** The invocation's record key, state root and tool; undefined when no record can stand for it. */
export function upToDateInvocation(args: ParsedArgs, io: { cwd: string; env: NodeJS.ProcessEnv }): { key: string; root: string; tool: string } | undefined {
  if (!upToDateEnabled(io.env) || args.positionals.length > 1) return undefined;
  const o = args.options;
  for (const [name, value] of Object.entries(o)) {
    if (!ELIGIBLE.has(name) && value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0)) return undefined;
  }
  const root = resolveStateRootDir({ root: o.root as string | undefined, env: io.env });
  const inv: Invocation = {
    cwd: io.cwd,
    context: path.resolve(io.cwd, args.positionals[0] ?? '.'),
    file: o.file === undefined ? null : path.resolve(io.cwd, o.file as string),
    tags: o.tag as string[],
    target: (o.target as string | undefined) ?? null,
    buildArgs: parseBuildArgs(o['build-arg'] as string[], io.env),
    root,
  };
  return { key: invocationKey(inv, io.env), root, tool: toolIdentity() };
}

/**
 * Where progress goes. process.stderr on a pipe (a CI log, the bench) is a net.Socket, whose
 * stream code Node compiles on first use: ~10 ms, a sixth of an answer. A few synchronous
 * writes need none of it; only a terminal (the live display) gets the real stream.
 */
async function stderrStream(): Promise<NodeJS.WritableStream & { isTTY?: boolean }> {
  // isatty is true only for a character device; asking tty for anything else would load net too.
  if (fstatSync(2).isCharacterDevice() && (await import('node:tty')).isatty(2)) return process.stderr;
  return { write: (chunk: string) => (writeAll(2, chunk), true), isTTY: false } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
}

/** The whole text, also to a non-blocking descriptor a parent left behind (EAGAIN: try again). */
function writeAll(fd: number, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

/**
 * Answers a build invocation from its up-to-date record when nothing it names has changed.
 * `argv` is the command line after the program name. True: answered (exit status 0).
 */
export async function answerUpToDate(argv: string[]): Promise<boolean> {
  // As a full build's record times its build() call, not the process before it.
  const startedAt = Date.now();
  let record: UpToDateRecord | undefined;
  let mode: ProgressMode;
  let renderer: ReturnType<typeof createProgressRenderer>;
  let iidfile: string | undefined;
  let file = '';
  let root = '';
  // Lines of files whose times alone changed, vouched for by content (check.ts).
  const refreshed = new Map<number, string>();
  try {
    // Not root: the CLI first re-executes itself in a user namespace (cli/main.ts).
    if (process.getuid?.() !== 0) return false;
    const words = argv.filter((a) => a !== '--debug');
    // No arguments at all is a request for help (cli/main.ts), not a build of `.`.
    if (words.length === 0) return false;
    const rest = words[0] === 'build' || words[0] === 'b' ? words.slice(1) : words;
    if (rest.includes('-h') || rest.includes('--help')) return false;
    const args = parseArgs(rest, buildOptions);
    const io = { cwd: process.cwd(), env: process.env };
    const inv = upToDateInvocation(args, io);
    if (!inv) return false;
    root = inv.root;
    file = upToDateFile(inv.root, inv.key);
    record = readUpToDateRecord(file);
    if (record?.key !== inv.key || !(await isUpToDate(record, inv.tool, refreshed))) return false;
    // An unknown mode throws here: the full CLI then reports it.
    iidfile = args.options.iidfile as string | undefined;
    mode = (args.options.quiet ? 'quiet' : ((args.options.progress as string | undefined) ?? 'auto')) as ProgressMode;
    renderer = createProgressRenderer(mode, await stderrStream());
  } catch {
    return false;
  }
  // Answered: from here on a failure (a closed pipe) is this run's, not a reason to build again.
  try {
    for (const e of record.events) renderer.emit(stamp(e));
    renderer.close();
    if (iidfile !== undefined) writeFileSync(iidfile, record.imageId);
    if (mode === 'quiet') writeAll(1, `${record.imageId}\n`);
    // A cache hit marks its record used (LRU prune reads the time), as the full build's lookup does.
    const now = new Date();
    utimesSync(record.result.record, now, now);
  } catch {
    process.exitCode = 1;
  }
  // Touched files are compared by stat again from now on, not re-read by every answer.
  if (refreshed.size > 0) refreshUpToDateListing(file, record, refreshed);
  // Listed by `tsbuild history` like any build; a record must not fail a build.
  if (record.history) {
    try {
      writeAnsweredRecord(root, record.history, startedAt);
    } catch {
      // no record of this answer
    }
  }
  return true;
}
