/**
 * .dockerignore as Docker reads it: one pattern per line, `#` comments, trimmed, cleaned like
 * Go's filepath.Clean, a leading `/` dropped, `!` exceptions; matching follows moby's
 * patternmatcher (`*`, `?`, `[...]`, `**`, `\` escapes), a pattern that matches a parent
 * directory excludes everything under it, and the last matching pattern wins.
 *
 * The Dockerfile and the .dockerignore file can themselves be excluded from the context yet
 * are still read: exclusion governs what COPY/ADD see, not what the builder reads.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { compilePattern } from './dockerignore-pattern.js';

/** Go's path.Clean for slash paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return rooted ? `/${joined}` : joined || '.';
}

/** Parses .dockerignore text into cleaned patterns (exceptions keep their leading `!`). */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  for (const raw of text.replace(/^\ufeff/, '').split('\n')) {
    // A comment is a line whose very first character is `#`; `  #x` is a pattern (confirmed).
    if (raw.startsWith('#')) continue;
    let line = raw.trim();
    if (line === '') continue;
    let invert = false;
    if (line.startsWith('!')) {
      invert = true;
      line = line.slice(1).trim();
    }
    if (line === '') continue;
    line = cleanPath(line);
    if (line.length > 1 && line.startsWith('/')) line = line.slice(1);
    patterns.push(invert ? `!${line}` : line);
  }
  return patterns;
}

interface CompiledPattern {
  exclusion: boolean;
  source: string;
  regex: RegExp;
}

function compile(pattern: string): CompiledPattern {
  const exclusion = pattern.startsWith('!');
  const source = exclusion ? pattern.slice(1) : pattern;
  return { exclusion, source, regex: compilePattern(source) };
}

export interface IgnoreMatcher {
  patterns: string[];
  /**
   * Whether a context-relative path (slash-separated) is excluded by the patterns alone: the last
   * matching pattern wins, and a pattern matching a parent directory matches everything below
   * (patternmatcher's MatchesOrParentMatches).
   */
  matches(relPath: string): boolean;
  /**
   * Whether a walk may skip an excluded directory with everything below it. Docker's context
   * walker keeps walking only when some `!` pattern's text starts with `<dir>/`, so an exception
   * that starts with a wildcard (`!**` then `/keep`) does NOT bring back files under an excluded
   * `x` (confirmed on Docker 26).
   */
  canSkipDir(relDir: string): boolean;
  /**
   * The walker's decision, as Docker sends the context: a file is left out when `matches`; an
   * excluded directory that cannot be skipped is still sent itself (and walked), one that can
   * be skipped is left out with its whole subtree.
   */
  excludes(relPath: string, isDir: boolean): boolean;
}

export function createIgnoreMatcher(patterns: string[]): IgnoreMatcher {
  const compiled = patterns.map(compile);
  const exceptions = compiled.filter((p) => p.exclusion).map((p) => `${p.source}/`);
  const matches = (relPath: string): boolean => {
    // No .dockerignore (the common case): nothing to clean or split for each of the context's files.
    if (compiled.length === 0) return false;
    const file = cleanPath(relPath);
    const parents = file.split('/').slice(0, -1);
    let matched = false;
    for (const p of compiled) {
      let match = p.regex.test(file);
      // A pattern that matches a parent directory matches everything under it.
      for (let i = 0; !match && i < parents.length; i++) match = p.regex.test(parents.slice(0, i + 1).join('/'));
      if (match) matched = !p.exclusion;
    }
    return matched;
  };
  const canSkipDir = (relDir: string): boolean => {
    const prefix = `${cleanPath(relDir)}/`;
    return !exceptions.some((e) => e.startsWith(prefix));
  };
  return {
    patterns,
    matches,
    canSkipDir,
    excludes: (relPath, isDir) => matches(relPath) && (!isDir || canSkipDir(relPath)),
  };
}

/**
 * Reads the ignore file for a build: `<Dockerfile>.dockerignore` beside the Dockerfile wins
 * over `<context>/.dockerignore`. Missing files mean no patterns.
 *
 * Patterns may exclude the Dockerfile and the ignore file themselves (`Dockerfile`, `.dockerignore`):
 * that only keeps them out of the context sent to COPY/ADD. The caller still reads both from disk,
 * as Docker does.
 * `read` lists the places looked at, in order, up to the one used, with their bytes as latin1
 * text (null: absent): what the up-to-date check (uptodate/) compares.
 */
export async function readDockerignore(contextDir: string, dockerfilePath?: string): Promise<{ patterns: string[]; file?: string; read: Array<{ path: string; text: string | null }> }> {
  const candidates: string[] = [];
  if (dockerfilePath) candidates.push(`${dockerfilePath}.dockerignore`);
  candidates.push(path.join(contextDir, '.dockerignore'));
  const read: Array<{ path: string; text: string | null }> = [];
  for (const file of candidates) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      read.push({ path: file, text: null });
      continue;
    }
    read.push({ path: file, text: data.toString('latin1') });
    return { patterns: parseDockerignore(data.toString('utf8')), file, read };
  }
  return { patterns: [], read };
}
