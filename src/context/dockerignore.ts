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
import { TsbuildError } from '../errors/index.js';

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
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
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
  /** Number of path components in the pattern (for the parent-directory rule). */
  dirs: string[];
}

function compile(pattern: string): CompiledPattern {
  const exclusion = pattern.startsWith('!');
  const source = exclusion ? pattern.slice(1) : pattern;
  let re = '^';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '*') {
      if (source[i + 1] === '*') {
        i++;
        if (source[i + 1] === '/') i++;
        // `**` at the end matches everything; elsewhere any number of directories, even none.
        re += i + 1 >= source.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= source.length) throw new TsbuildError('ERR_TSBUILD_DOCKERIGNORE', `invalid pattern "${pattern}": trailing backslash`);
      re += escapeRe(source[++i]!);
    } else if (c === '[') {
      const close = source.indexOf(']', i + 1);
      if (close === -1) throw new TsbuildError('ERR_TSBUILD_DOCKERIGNORE', `invalid pattern "${pattern}": unterminated character class`);
      let cls = source.slice(i + 1, close);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls}]`;
      i = close;
    } else re += escapeRe(c);
  }
  re += '$';
  let regex: RegExp;
  try {
    regex = new RegExp(re, 's');
  } catch (cause) {
    throw new TsbuildError('ERR_TSBUILD_DOCKERIGNORE', `invalid pattern "${pattern}"`, { cause });
  }
  return { exclusion, source, regex, dirs: source.split('/') };
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface IgnoreMatcher {
  patterns: string[];
  /** Whether a context-relative path (slash-separated) is excluded. */
  matches(relPath: string): boolean;
  /**
   * Whether a walk can skip an excluded directory entirely: false when some `!` pattern could
   * re-include something below it.
   */
  canSkipDir(relDir: string): boolean;
}

export function createIgnoreMatcher(patterns: string[]): IgnoreMatcher {
  const compiled = patterns.map(compile);
  const exceptions = compiled.filter((p) => p.exclusion);
  return {
    patterns,
    matches(relPath) {
      const file = cleanPath(relPath);
      const parents = file.split('/').slice(0, -1);
      let matched = false;
      for (const p of compiled) {
        let match = p.regex.test(file);
        if (!match && parents.length > 0) {
          // A pattern that matches a parent directory matches everything under it.
          for (let i = 0; i < parents.length && !match; i++) match = p.regex.test(parents.slice(0, i + 1).join('/'));
        }
        if (match) matched = !p.exclusion;
      }
      return matched;
    },
    canSkipDir(relDir) {
      if (exceptions.length === 0) return true;
      const dir = cleanPath(relDir).split('/');
      return !exceptions.some((p) => {
        if (p.source.includes('**')) return true;
        // The exception could apply below `dir` if its leading components can match dir's.
        if (p.dirs.length <= dir.length) return false;
        return dir.every((part, i) => compile(p.dirs[i]!).regex.test(part));
      });
    },
  };
}

/**
 * Reads the ignore file for a build: `<Dockerfile>.dockerignore` beside the Dockerfile wins
 * over `<context>/.dockerignore`. Missing files mean no patterns.
 *
 * Patterns may exclude the Dockerfile and the ignore file themselves (`Dockerfile`, `.dockerignore`):
 * that only keeps them out of the context sent to COPY/ADD. The caller still reads both from disk,
 * as Docker does.
 */
export async function readDockerignore(contextDir: string, dockerfilePath?: string): Promise<{ patterns: string[]; file?: string }> {
  const candidates: string[] = [];
  if (dockerfilePath) candidates.push(`${dockerfilePath}.dockerignore`);
  candidates.push(path.join(contextDir, '.dockerignore'));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    return { patterns: parseDockerignore(text), file };
  }
  return { patterns: [] };
}
