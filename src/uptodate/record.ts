/**
 * The up-to-date record of a build invocation: what a build that succeeded saw of its inputs
 * (Dockerfile and ignore file text, the context's stat listing, the base images' and tags'
 * digests, the cache record and layers of its result) and the progress events a rebuild that
 * finds all of it unchanged would show. `tsbuild build` run again with the same arguments,
 * working directory and environment checks the record first (check.ts, before the build code
 * is even loaded) and, when nothing changed, replays those events instead of planning and
 * solving: a no-op rebuild is then a process start and a walk of the context, as `make` or
 * `git status` are.
 *
 * Records live in <root>/cache/up-to-date/<key>.json, one per invocation key (a digest of the
 * normalized arguments, working directory and environment, so no argument or variable value is
 * stored), replaced by each eligible build; prune removes them with the cache (an absent or
 * unreadable one only means a full build). TSBUILD_UP_TO_DATE=0 turns the check off.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AnsweredBuildRecord } from '../history/record.js';
import type { TimelessEvent } from '../progress/index.js';
import { writeFileAtomicSync } from '../util/atomic-file.js';

export const UP_TO_DATE_VERSION = 3;

export type { TimelessEvent };

export interface UpToDateRecord {
  version: typeof UP_TO_DATE_VERSION;
  /** The invocation key (also the file name). */
  key: string;
  /** The tsbuild build that wrote it (toolIdentity): another one plans differently. */
  tool: string;
  /** Files read whole: the Dockerfile and both places an ignore file may be (null: absent). */
  files: Array<{ path: string; text: string | null }>;
  context: {
    dir: string;
    /** statLine of every entry the build's walk visited (context/listing.ts). */
    lines: string[];
    /** Entries it left out (ignored). */
    skip: string[];
    /**
     * The lines of the most recently changed entries, checked before the walk: what was edited
     * last is what is edited again, so a changed context is usually told in a few lstats.
     */
    recent: string[];
    /**
     * Files changed in the clock tick before the walk, vouched for by content: small ones whole
     * (base64: compared without loading node:crypto), larger ones by sha256 (hex).
     */
    racy: Array<{ path: string; content?: string; sha256?: string }>;
    /**
     * `path\0sha256\0` for each listed file whose content the build knew (not the racy ones):
     * a file whose times alone changed since (a touch, a checkout) is compared by content. One
     * string, so that a check that never needs it does not pay for parsing 2,000 entries.
     */
    hashes: string;
  };
  /** Image store records (base images and -t tags): their files, names and manifest digests. */
  images: Array<{ file: string; name: string; digest: string }>;
  /**
   * The cache record of the result (its file and text: a --no-cache build may have put another
   * result under the same key), and what its layers need: a snapshot dir or a blob each.
   */
  result: { record: string; text: string; needs: string[] };
  /** The events a rebuild that hits the cache for the target shows, in order. */
  events: TimelessEvent[];
  /** The image ID (quiet mode prints it). */
  imageId: string;
  /** The build record an answered rebuild writes (with its own id and times): `tsbuild history` lists every build. */
  history?: AnsweredBuildRecord;
}

/** The normalized invocation a record is for (the progress mode is not part of it: any renderer replays the events). */
export interface Invocation {
  cwd: string;
  context: string;
  file: string | null;
  tags: string[];
  target: string | null;
  buildArgs: Record<string, string>;
  root: string;
}

/** Variables that differ between shells without changing what a build does. */
const VOLATILE_ENV = new Set(['_', 'OLDPWD', 'PWD', 'SHLVL', 'COLUMNS', 'LINES']);

/**
 * The record file name for an invocation: a 128-bit digest of it and of the environment. Not a
 * cryptographic one: loading node:crypto would cost an answer ~5 ms of its ~55, and the digest
 * only has to tell invocations apart, not resist someone who already runs tsbuild as this user.
 */
export function invocationKey(inv: Invocation, env: NodeJS.ProcessEnv): string {
  const vars = Object.keys(env)
    .filter((k) => !VOLATILE_ENV.has(k) && env[k] !== undefined)
    .sort()
    .map((k) => [k, env[k]]);
  return hash128(JSON.stringify({ v: UP_TO_DATE_VERSION, inv, vars }));
}

/** Four 32-bit multiply-xor lanes, each with its own start and multiplier, finished with an avalanche. */
export function hash128(text: string): string {
  // Four lanes in locals, each mixing in the one updated just before it: the check runs this
  // once per invocation, before V8 has optimised anything, where an inner loop over an array
  // cost ~2 ms for a few KB of environment.
  let l0 = 0x811c9dc5;
  let l1 = 0x6a09e667;
  let l2 = 0xbb67ae85;
  let l3 = 0x3c6ef372;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    l0 = Math.imul(l0 ^ c, 0x01000193) ^ (l3 >>> 15);
    l1 = Math.imul(l1 ^ c, 0x5bd1e995) ^ (l0 >>> 15);
    l2 = Math.imul(l2 ^ c, 0x85ebca6b) ^ (l1 >>> 15);
    l3 = Math.imul(l3 ^ c, 0xc2b2ae35) ^ (l2 >>> 15);
  }
  const lanes = [l0, l1, l2, l3];
  return lanes
    .map((h, j) => {
      let x = h ^ lanes[(j + 1) % 4]!;
      x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
      x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
      return ((x ^ (x >>> 16)) >>> 0).toString(16).padStart(8, '0');
    })
    .join('');
}

/** Whether the check runs at all (TSBUILD_UP_TO_DATE=0 turns it off, for writing and reading). */
export const upToDateEnabled = (env: NodeJS.ProcessEnv): boolean => env.TSBUILD_UP_TO_DATE !== '0';

export const upToDateFile = (stateRoot: string, key: string): string => path.join(stateRoot, 'cache', 'up-to-date', `${key}.json`);

/**
 * Writes back a record whose listing lines at `lines` (index -> line) changed in their times only
 * and were vouched for by content: the next check then compares them by stat again. Best effort.
 */
export function refreshUpToDateListing(file: string, record: UpToDateRecord, lines: ReadonlyMap<number, string>): void {
  const relOf = (line: string): string => line.slice(0, line.indexOf('\0'));
  const byRel = new Map<string, string>();
  for (const [index, line] of lines) {
    record.context.lines[index] = line;
    byRel.set(relOf(line), line);
  }
  record.context.recent = record.context.recent.map((line) => byRel.get(relOf(line)) ?? line);
  try {
    writeFileAtomicSync(file, JSON.stringify(record));
  } catch {
    // the next answer reads the touched files again
  }
}

export function readUpToDateRecord(file: string): UpToDateRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as UpToDateRecord;
    return r.version === UP_TO_DATE_VERSION ? r : undefined;
  } catch {
    return undefined;
  }
}
