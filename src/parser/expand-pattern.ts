/**
 * Shell-style patterns for `${v#p}`, `${v%p}`, `${v/p/r}` with BuildKit's semantics. BuildKit turns
 * the pattern into a Go regular expression, so the quirks follow from that:
 * - `*` and `?` are wildcards and never match a newline (Go's `.`); `[` is literal (no classes).
 * - The pattern text keeps its escapes; a backslash may only escape `*`, `?` or `\` (anything else
 *   is an "invalid escape" error), except before `}` or `/` where it is simply dropped.
 * - `%`/`%%` reverse the value and the pattern and trim a prefix.
 * - `//` replaces like Go's ReplaceAllString: an empty match right after a match is skipped, and
 *   `$name`/`${name}` in the replacement refer to (non-existent) groups; `$0` is the whole match.
 *   A single `/` splices the replacement in literally.
 */
import { TsbuildError } from '../errors/index.js';

const REGEX_SYNTAX = /[.*+?^${}()|[\]\\/]/g;

function invalid(pattern: string, why: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_EXPAND', `invalid pattern (${pattern}) in substitution: ${why}`);
}

/** Builds the JavaScript equivalent of the regular expression BuildKit compiles for a pattern. */
export function patternToRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = [...pattern];
  let src = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') src += greedy ? '[^\\n]*' : '[^\\n]*?';
    else if (ch === '?') src += '[^\\n]';
    else if (ch === '\\') {
      const n = chars[i + 1];
      // An escaped `}` or `/` only protected the ${} syntax; the character itself is plain.
      if (n === '}' || n === '/') continue;
      if (n !== '*' && n !== '?' && n !== '\\') throw invalid(pattern, `invalid escape '\\${n ?? ''}'`);
      src += `\\${n}`;
      i++;
    } else src += ch.replace(REGEX_SYNTAX, '\\$&');
  }
  return new RegExp(src, anchored ? 'u' : 'gu');
}

/** Reverses a pattern by characters, keeping each backslash before the character it escapes. */
function reversePattern(pattern: string): string {
  const chars = [...pattern];
  const tokens: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\' && i < chars.length - 1) {
      tokens.push(chars[i]! + chars[i + 1]!);
      i++;
    } else tokens.push(chars[i]!);
  }
  return tokens.reverse().join('');
}

function reverse(s: string): string {
  return [...s].reverse().join('');
}

/** `${v#p}` (shortest) and `${v##p}` (greedy). */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = patternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** `${v%p}` (shortest) and `${v%%p}` (greedy), done on the reversed strings as BuildKit does. */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** Go's template expansion for ReplaceAllString, with no capture groups in the pattern. */
function expandTemplate(template: string, match: string): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '$') {
      out += ch;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    let end = i;
    const braced = /^\{([A-Za-z0-9_]+)\}/.exec(template.slice(i + 1));
    const bare = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
    if (braced) {
      name = braced[1];
      end = i + braced[0].length;
    } else if (bare) {
      name = bare[0];
      end = i + bare[0].length;
    }
    if (name === undefined) {
      out += '$';
      continue;
    }
    // Only group 0 (the whole match) exists; every other name refers to nothing.
    if (/^[0-9]+$/.test(name) && Number(name) === 0) out += match;
    i = end;
  }
  return out;
}

/** `${v/p/r}` (first match, literal replacement) and `${v//p/r}` (every match, Go semantics). */
export function replacePattern(pattern: string, value: string, replacement: string, all: boolean): string {
  const re = patternToRegExp(pattern, true, false);
  if (!all) {
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }
  let out = '';
  let lastEnd = 0;
  let search = 0;
  while (search <= value.length) {
    re.lastIndex = search;
    const m = re.exec(value);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += value.slice(lastEnd, start);
    // Go skips an empty match that touches the end of the previous match.
    if (end > lastEnd || start === 0) out += expandTemplate(replacement, m[0]);
    lastEnd = end;
    if (end > search) search = end;
    else search += search < value.length ? String.fromCodePoint(value.codePointAt(search)!).length : 1;
  }
  return out + value.slice(lastEnd);
}
