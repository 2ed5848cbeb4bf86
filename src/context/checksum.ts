/**
 * Content checksums of the build context, the input side of COPY/ADD cache keys.
 *
 * A checksum covers exactly the files a step reads: names, types, modes, symlink targets and
 * contents, never mtimes or owners (so `touch` busts nothing). Hashing is incremental like
 * git's index: a stat cache keyed by path remembers (size, mtime, ctime, inode) -> sha256 and is
 * persisted per context directory, so an unchanged file is never read twice across builds.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { statsLstat } from '../util/fast-lstat.js';
import { sha256, type Digest } from '../util/digest.js';
import { RACY_MS, statLine } from './listing.js';

/** Decides whether a context-relative path is excluded (.dockerignore). */
export type ExcludeFn = (relPath: string, isDir: boolean) => boolean;
/** True when nothing below an excluded directory can be re-included (lets the walk prune it). */
export type CanSkipDirFn = (relDir: string) => boolean;

export interface ContextEntry {
  /** Context-relative path with forward slashes, no leading `./`. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkTarget?: string;
  /** Modification time (ms, as lstat gives it): never part of a checksum, but a filtered view carries it over. */
  mtimeMs?: number;
  /** An `other` entry that is a named pipe (BuildKit's context transfer sends those). */
  fifo?: boolean;
  /** Filled lazily for files. */
  hash?: string;
}

/** Times in ms and the inode as a plain lstat gives them, in their string form. */
export interface StatCacheEntry {
  size: number;
  mtimeMs: string;
  ctimeMs: string;
  ino: string;
  hash: string;
}

/** What the hasher's walk saw, for the up-to-date check (listing.ts). */
export interface ContextListing {
  /** statLine of every entry the walk visited, in walk order (context/listing.ts). */
  lines: string[];
  /** Entries the walk left out: ignored files, and ignored directories it did not enter (with a trailing `/`). */
  skipped: string[];
  /**
   * Entries whose ctime lies within RACY_MS of the walk's start: a change in the same clock tick
   * could leave every stat field as it was, so a listing match alone cannot vouch for them.
   */
  racy: Array<{ path: string; type: 'file' | 'dir' | 'symlink' | 'other' }>;
}

export interface ContextHasher {
  /** All entries of the context after exclusion, sorted by path. */
  entries(): Promise<ContextEntry[]>;
  /** The walk's stat listing (walks first if needed). */
  listing(): Promise<ContextListing>;
  /** The content hash of an included regular file (from the stat cache when unchanged). */
  fileHash(path: string): Promise<string | undefined>;
  /** The content hashes known without reading a file: hashed by this build, or unchanged since the stat cache's. */
  knownHashes(): Promise<Map<string, string>>;
  /** Checksum of the entries selected by COPY-style source patterns (dirs include their contents). */
  checksum(patterns: string[]): Promise<{ digest: Digest; files: number; bytes: number }>;
  /** Persists the stat cache if it changed since the last save (a build saves early and at its end). */
  save(): Promise<void>;
  /**
   * The walk's lstat of an included entry (undefined before the walk, or for anything else).
   * A COPY read in place takes its metadata from here: the same state its cache key was made
   * from, and one lstat less per file.
   */
  statOf(path: string): Stats | undefined;
}

export interface ContextHasherOptions {
  contextDir: string;
  exclude?: ExcludeFn;
  canSkipDir?: CanSkipDirFn;
  /** Where to persist the stat cache (a file path); omit for in-memory only. */
  statCacheFile?: string;
  /** How recent a change makes an entry racy (ContextListing.racy); RACY_MS by default. */
  racyMs?: number;
}

export function createContextHasher(options: ContextHasherOptions): ContextHasher {
  const root = path.resolve(options.contextDir);
  const exclude = options.exclude ?? (() => false);
  const canSkipDir = options.canSkipDir ?? (() => true);
  const statOf = new Map<string, Stats>();
  let walked: Promise<ContextEntry[]> | undefined;
  let statCache: Map<string, StatCacheEntry> | undefined;
  let dirty = false;

  const loadStatCache = async (): Promise<Map<string, StatCacheEntry>> => {
    if (statCache) return statCache;
    statCache = new Map();
    if (options.statCacheFile) {
      try {
        parseStatCache(await readFile(options.statCacheFile, 'utf8'), statCache);
      } catch {
        // no cache yet, or unreadable: start empty
        statCache.clear();
      }
    }
    return statCache;
  };

  // The walk uses synchronous calls on purpose: an awaited lstat per file costs a thread-pool
  // round trip (~0.3 ms), which dominated no-op rebuilds of a 2,000-file context; the sync
  // calls take a few microseconds each and the walk is short.
  // What the walk saw; listing lines are made only when asked for (2,000 strings cost ~ms).
  const seen = { visited: [] as Array<[string, Stats]>, skipped: [] as string[], racy: [] as ContextListing['racy'] };
  const walk = async (): Promise<ContextEntry[]> => {
    const out: ContextEntry[] = [];
    const racyAfter = Date.now() - (options.racyMs ?? RACY_MS);
    // Plain concatenation, not path.join: names from readdir hold no `/`, `.` or `..`, and
    // normalising 2,000 paths twice cost a no-op rebuild several ms.
    const prefix = root.endsWith('/') ? root : `${root}/`;
    // fs.lstatSync's results, through the fs binding when it proves itself (util/fast-lstat.ts).
    const lstat = statsLstat(root);
    const visit = (rel: string): void => {
      const names = readdirSync(rel === '' ? root : prefix + rel).sort();
      for (const name of names) {
        const childRel = rel === '' ? name : `${rel}/${name}`;
        const abs = prefix + childRel;
        // Plain lstat, not bigint: 2,000 entries' ~30,000 BigInts cost the collector ~4 ms.
        const st = lstat(abs);
        const isDir = st.isDirectory();
        const excluded = exclude(childRel, isDir);
        // An excluded directory may still hold re-included children (`!` patterns), so it is
        // pruned only when the matcher says nothing below it can come back.
        if (excluded && (!isDir || canSkipDir(childRel))) {
          seen.skipped.push(isDir ? `${childRel}/` : childRel);
          continue;
        }
        seen.visited.push([childRel, st]);
        const entry: ContextEntry = {
          path: childRel,
          type: isDir ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other',
          mode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
          size: st.size,
          mtimeMs: st.mtimeMs,
        };
        if (st.ctimeMs >= racyAfter) seen.racy.push({ path: childRel, type: entry.type });
        if (entry.type === 'symlink') entry.linkTarget = readlinkSync(abs);
        if (entry.type === 'other' && st.isFIFO()) entry.fifo = true;
        if (!excluded) out.push(entry);
        if (isDir) visit(childRel);
        if (!excluded) statOf.set(childRel, st);
      }
    };
    visit('');
    return out;
  };

  /** The hash from a previous build when the file's stat is unchanged (no await: most files). */
  const cachedHash = (entry: ContextEntry): string | undefined => {
    if (entry.hash || !statCache) return entry.hash;
    const st = statOf.get(entry.path)!;
    const hit = statCache.get(entry.path);
    if (hit && hit.size === st.size && hit.mtimeMs === String(st.mtimeMs) && hit.ctimeMs === String(st.ctimeMs) && hit.ino === String(st.ino)) entry.hash = hit.hash;
    return entry.hash;
  };

  const hashFile = async (entry: ContextEntry): Promise<string> => {
    if (entry.hash) return entry.hash;
    const cache = await loadStatCache();
    const st = statOf.get(entry.path)!;
    const key = { size: st.size, mtimeMs: String(st.mtimeMs), ctimeMs: String(st.ctimeMs), ino: String(st.ino) };
    const hit = cache.get(entry.path);
    if (hit && hit.size === key.size && hit.mtimeMs === key.mtimeMs && hit.ctimeMs === key.ctimeMs && hit.ino === key.ino) {
      entry.hash = hit.hash;
      return hit.hash;
    }
    const h = createHash('sha256');
    const file = path.join(root, entry.path);
    // Small files in one read (most of a context); large ones streamed.
    if (entry.size < 1 << 20) h.update(readFileSync(file));
    else for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    entry.hash = h.digest('hex');
    cache.set(entry.path, { ...key, hash: entry.hash });
    dirty = true;
    return entry.hash;
  };

  const entries = (): Promise<ContextEntry[]> => (walked ??= walk());
  let byPath: Map<string, ContextEntry> | undefined;

  return {
    entries,
    async listing() {
      await entries();
      return { lines: seen.visited.map(([rel, st]) => statLine(rel, st)), skipped: seen.skipped, racy: seen.racy };
    },
    async knownHashes() {
      const out = new Map<string, string>();
      const all = await entries();
      await loadStatCache();
      for (const e of all) {
        const hash = e.type === 'file' ? cachedHash(e) : undefined;
        if (hash !== undefined) out.set(e.path, hash);
      }
      return out;
    },
    async fileHash(rel) {
      // Called for every racy file: all of them after a fresh checkout, so no scan per call.
      byPath ??= new Map((await entries()).map((e) => [e.path, e]));
      const entry = byPath.get(rel);
      if (entry?.type !== 'file') return undefined;
      await loadStatCache();
      return cachedHash(entry) ?? hashFile(entry);
    },
    async checksum(patterns) {
      const all = await entries();
      await loadStatCache();
      const selected = selectEntries(all, patterns);
      const parts: unknown[] = [];
      let bytes = 0;
      let sinceYield = 0;
      for (const e of selected) {
        let content = e.type === 'file' ? cachedHash(e) : e.type === 'symlink' ? e.linkTarget : undefined;
        if (e.type === 'file' && content === undefined) {
          content = await hashFile(e);
          // Hashing reads synchronously: let steps that already run (a cold build starts them
          // before the checksums are known) use the event loop between files.
          sinceYield += e.size + 4096;
          if (sinceYield > 256 << 10) {
            sinceYield = 0;
            await new Promise((r) => setImmediate(r));
          }
        }
        if (e.type === 'file') bytes += e.size;
        // No uid/gid: COPY from the context resets ownership (to 0:0 or --chown), and owners
        // differ between checkouts, so they would only keep another machine's cache from matching.
        parts.push([e.path, e.type, e.mode, content ?? null]);
      }
      // Exactly digestOf({ v: 2, patterns, parts }) (canonical JSON: keys sorted, and arrays of
      // primitives are already canonical), without copying 2,000 arrays to sort their keys.
      return { digest: sha256(`{"parts":${JSON.stringify(parts)},"patterns":${JSON.stringify(patterns)},"v":2}`), files: selected.length, bytes };
    },
    async save() {
      if (!dirty || !options.statCacheFile || !statCache) return;
      // Cleared before the text is made: a hash added while it is written makes it dirty again
      // (a build saves early, while its steps run, and once more at the end if need be).
      dirty = false;
      try {
        await writeFileAtomic(options.statCacheFile, formatStatCache(statCache));
      } catch (err) {
        dirty = true;
        throw err;
      }
    },
    statOf: (rel) => statOf.get(rel),
  };
}

/**
 * The stat cache on disk: a header line, then one line per file, `size mtimeMs ctimeMs ino hash
 * path` separated by tabs, the path last and JSON-quoted when it holds a tab, newline, quote or
 * backslash (a JSON object took twice as long to read and write). Older formats held ns times,
 * which no plain lstat gives: they are not read, and the files are hashed once again.
 */
const STAT_CACHE_HEADER = 'tsbuild-stat-cache 3\n';

export function formatStatCache(cache: Map<string, StatCacheEntry>): string {
  let out = STAT_CACHE_HEADER;
  for (const [p, e] of cache) {
    const shown = /[\t\n\r"\\]/.test(p) ? JSON.stringify(p) : p;
    out += `${e.size}\t${e.mtimeMs}\t${e.ctimeMs}\t${e.ino}\t${e.hash}\t${shown}\n`;
  }
  return out;
}

/** Fills `into` from a stat-cache file's text; throws on a malformed or older file. */
export function parseStatCache(text: string, into: Map<string, StatCacheEntry>): void {
  if (!text.startsWith(STAT_CACHE_HEADER)) throw new Error('unknown stat cache format');
  let at = STAT_CACHE_HEADER.length;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    if (end === -1) throw new Error('truncated stat cache');
    const f = text.slice(at, end).split('\t', 6);
    at = end + 1;
    const [size, mtimeMs, ctimeMs, ino, hash, shown] = f;
    if (shown === undefined || hash!.length !== 64) throw new Error('malformed stat cache line');
    const p = shown.startsWith('"') ? (JSON.parse(shown) as string) : shown;
    into.set(p, { size: Number(size), mtimeMs: mtimeMs!, ctimeMs: ctimeMs!, ino: ino!, hash: hash! });
  }
}

/** The stat-cache file for a context directory under a state root. */
export function statCacheFileFor(stateRoot: string, contextDir: string): string {
  return path.join(stateRoot, 'cache', 'context', `${sha256(path.resolve(contextDir)).slice(7, 23)}.json`);
}

/**
 * Entries a set of COPY source patterns reads: an exact path selects that entry and, for a
 * directory, everything below it; a wildcard pattern is matched component-wise (Go
 * filepath.Match: `*` never crosses `/`) against each entry's leading components.
 */
export function selectEntries(all: ContextEntry[], patterns: string[]): ContextEntry[] {
  const cleaned = patterns.map(cleanPattern);
  if (cleaned.some((p) => p === '')) return all;
  const selected = selectWith(all, cleaned);
  // A source that is itself a symlink is followed by COPY, so its target is read too (chains
  // included), as BuildKit's context transfer adds link targets to its followed paths. Links
  // further down a copied directory stay links and need nothing more.
  const byPath = new Map(all.map((e) => [e.path, e]));
  const seen = new Set(cleaned);
  const extra: string[] = [];
  let frontier = all.filter((e) => e.type === 'symlink' && isDirectSource(e.path, cleaned));
  while (frontier.length > 0 && seen.size < 4096) {
    const next: ContextEntry[] = [];
    for (const link of frontier) {
      const target = link.linkTarget ?? '';
      const resolved = cleanPattern(target.startsWith('/') ? target : path.posix.join(path.posix.dirname(link.path), target));
      if (resolved === '' || resolved.startsWith('..') || seen.has(resolved)) continue;
      seen.add(resolved);
      extra.push(resolved);
      const hit = byPath.get(resolved);
      if (hit?.type === 'symlink') next.push(hit);
    }
    frontier = next;
  }
  if (extra.length === 0) return selected;
  const keep = new Set([...selected, ...selectWith(all, extra)]);
  return all.filter((e) => keep.has(e));
}

/** Whether `entryPath` is what a pattern names itself (not something below it). */
function isDirectSource(entryPath: string, cleaned: string[]): boolean {
  const comps = entryPath.split('/');
  return cleaned.some((p) => {
    if (!/[*?[\\]/.test(p)) return entryPath === p;
    const parts = p.split('/');
    return parts.length === comps.length && parts.every((part, i) => componentRegex(part).test(comps[i]!));
  });
}

function selectWith(all: ContextEntry[], cleaned: string[]): ContextEntry[] {
  const matchers = cleaned.map((p) => {
    const parts = p.split('/');
    const wild = /[*?[\\]/.test(p);
    const regexes = wild ? parts.map(componentRegex) : undefined;
    return (entryPath: string): boolean => {
      if (!wild) return entryPath === p || entryPath.startsWith(`${p}/`) || p.startsWith(`${entryPath}/`);
      const comps = entryPath.split('/');
      // Parents of a possible match are read too (their metadata is copied when they are the match).
      const n = Math.min(comps.length, parts.length);
      for (let i = 0; i < n; i++) if (!regexes![i]!.test(comps[i]!)) return false;
      return true;
    };
  });
  return all.filter((e) => matchers.some((m) => m(e.path)));
}

function cleanPattern(p: string): string {
  const norm = path.posix.normalize(`/${p}`).slice(1);
  return norm.replace(/\/+$/, '').replace(/^\.$/, '');
}

function componentRegex(component: string): RegExp {
  let re = '^';
  for (let i = 0; i < component.length; i++) {
    const c = component[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < component.length) re += escapeRe(component[++i]!);
    else if (c === '[') {
      const end = component.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        let cls = component.slice(i + 1, end);
        if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
