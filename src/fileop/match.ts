/**
 * Go's `path/filepath.Match` rules, which BuildKit uses for COPY/ADD wildcards: `*` matches any
 * run of non-`/` characters, `?` one non-`/` character, `[...]` a class (`^`/`!` negates,
 * ranges with `-`), and `\` escapes the next character. A malformed pattern never matches.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { resolveInRoot } from './paths.js';

/** Whether `s` contains an unescaped wildcard character (Go's `hasMeta` plus escapes). */
export function hasWildcard(s: string): boolean {
  return /[*?[\\]/.test(s);
}

/** Compiles a Go filepath.Match pattern to a RegExp; null when the pattern is malformed. */
export function compileGoPattern(pattern: string): RegExp | null {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) return null;
      re += escapeRe(pattern[i]!);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^' || pattern[j] === '!') {
        cls += '^';
        j++;
      }
      let first = true;
      let closed = false;
      while (j < pattern.length) {
        let ch = pattern[j]!;
        if (ch === ']' && !first) {
          closed = true;
          break;
        }
        first = false;
        if (ch === '\\') {
          j++;
          if (j >= pattern.length) return null;
          ch = pattern[j]!;
        }
        let item = escapeClass(ch);
        if (pattern[j + 1] === '-' && pattern[j + 2] !== undefined && pattern[j + 2] !== ']') {
          let hi = pattern[j + 2]!;
          j += 2;
          if (hi === '\\') {
            j++;
            if (j >= pattern.length) return null;
            hi = pattern[j]!;
          }
          if (hi < ch) return null;
          item += '-' + escapeClass(hi);
        }
        cls += item;
        j++;
      }
      if (!closed || cls === '' || cls === '^') return null;
      // A class never matches the separator, as in Go.
      re += cls.startsWith('^') ? `(?!/)[${cls}]` : `(?!/)[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(re + '$', 's');
  } catch {
    return null;
  }
}

/** Go filepath.Match. */
export function goMatch(pattern: string, name: string): boolean {
  return compileGoPattern(pattern)?.test(name) ?? false;
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
function escapeClass(c: string): string {
  return c.replace(/[\]\\^-]/g, '\\$&');
}

/** Removes Go escapes from a literal component. */
export function unescapeGo(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/**
 * Expands a wildcard source path inside `root`: every component may hold a pattern; directories
 * on the way are listed (symlinked ones followed within the root). Returns root-relative paths,
 * sorted per component like Go's directory reads.
 */
export async function expandWildcards(root: string, pattern: string): Promise<string[]> {
  const parts = pattern.split('/').filter((c) => c !== '' && c !== '.');
  let current: string[] = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of current) {
      if (!hasWildcard(part) || part === '..') {
        next.push(base === '' ? unescapeGo(part) : `${base}/${unescapeGo(part)}`);
        continue;
      }
      const re = compileGoPattern(part);
      if (!re) continue;
      const dir = await resolveInRoot(root, base, { followLast: true, escapeError: 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT' });
      let names: string[];
      try {
        names = (await readdir(dir)).sort();
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push(base === '' ? n : `${base}/${n}`);
    }
    current = next;
  }
  return current.filter((c) => c !== '' || parts.length === 0).map((c) => path.posix.normalize(c || '.'));
}
