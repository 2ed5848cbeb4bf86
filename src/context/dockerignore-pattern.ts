/**
 * Compiles one .dockerignore pattern the way moby's patternmatcher does, quirks included
 * (each confirmed against Docker 26 with the 20.10 client, see test/context):
 * - the pattern must first be valid for Go's filepath.Match (`[abc`, `a[`, a trailing `\` fail);
 * - it is then turned into a Go regular expression character by character: `*` -> `[^/]*`,
 *   `**` -> any number of directories, `?` -> `[^/]`, `.` and `$` literal, and EVERYTHING ELSE
 *   passes through as regex syntax. So `a+b` matches `aab`, `[!a]` is a class holding `!` and `a`
 *   (not a negation; `[^a]` is), `\d` is a digit, `[[:digit:]]` is a POSIX class, and `x)` or
 *   `\l` are errors.
 * We reproduce that Go regex in JavaScript syntax.
 */
import { TsbuildError } from '../errors/index.js';

function bad(pattern: string, why: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_DOCKERIGNORE', `invalid pattern "${pattern}": ${why}`);
}

/** The syntax check of Go's filepath.Match: classes must be closed and well formed, escapes complete. */
function validateGlob(pattern: string): void {
  const s = [...pattern];
  let i = 0;
  // One class member (a char or an escaped char); `-` and `]` cannot start one.
  const member = (): void => {
    const c = s[i];
    if (c === undefined || c === '-' || c === ']') throw bad(pattern, 'syntax error in character class');
    if (c === '\\') {
      i++;
      if (s[i] === undefined) throw bad(pattern, 'unfinished escape in character class');
    }
    i++;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) throw bad(pattern, 'trailing backslash');
      i += 2;
    } else if (c === '[') {
      i++;
      if (s[i] === '^') i++;
      let ranges = 0;
      for (;;) {
        if (s[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        member();
        if (s[i] === '-') {
          i++;
          member();
        }
        ranges++;
      }
    } else i++;
  }
}

/** The Go regular expression patternmatcher builds (without Go-only syntax translated yet). */
function toGoRegex(pattern: string): string {
  const s = [...pattern];
  let re = '^';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '*') {
      if (s[i + 1] === '*') {
        i++;
        if (s[i + 1] === '/') i++;
        // `**` at the end takes everything; elsewhere it is any number of leading directories.
        re += i + 1 >= s.length ? '[^\\n]*' : '([^\\n]*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '.' || c === '$') re += `\\${c}`;
    else if (c === '\\') {
      re += `\\${s[i + 1] ?? ''}`;
      i++;
    } else re += c;
  }
  return `${re}$`;
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** Escapes Go accepts and JavaScript reads differently (or not at all). */
const GO_ESCAPES: Record<string, string> = { a: '\\x07', f: '\\f', t: '\\t', n: '\\n', r: '\\r', v: '\\v', A: '^', z: '$' };
const SAME_ESCAPES = new Set(['d', 'D', 's', 'S', 'w', 'W', 'b', 'B']);

/** Rewrites Go regex syntax that JavaScript lacks; letters Go does not know as escapes are errors. */
function goToJs(pattern: string, src: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      i++;
      if (n === undefined) throw bad(pattern, 'trailing backslash');
      if (/[A-Za-z0-9]/.test(n)) {
        const mapped = GO_ESCAPES[n];
        if (mapped !== undefined && !(inClass && (n === 'A' || n === 'z'))) out += mapped;
        else if (SAME_ESCAPES.has(n) && !(inClass && (n === 'b' || n === 'B'))) out += `\\${n}`;
        else throw bad(pattern, `invalid escape \\${n}`);
      } else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(i));
      if (posix) {
        const set = POSIX_CLASSES[posix[2]!];
        if (set === undefined || posix[1]) throw bad(pattern, `unsupported character class ${posix[0]}`);
        out += set;
        i += posix[0].length - 1;
        continue;
      }
      if (c === '[') out += '\\[';
      else {
        if (c === ']') inClass = false;
        out += c;
      }
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // Go takes a `]` right after `[` or `[^` as a member.
      if (src[i + 1] === '^') out += src[++i];
      if (src[i + 1] === ']') out += '\\' + src[++i];
      continue;
    }
    out += c;
  }
  return out;
}

/** Compiles a cleaned pattern (without its `!`) to a RegExp matching slash-separated paths. */
export function compilePattern(pattern: string): RegExp {
  validateGlob(pattern);
  try {
    return new RegExp(goToJs(pattern, toGoRegex(pattern)));
  } catch (cause) {
    if (cause instanceof TsbuildError) throw cause;
    throw new TsbuildError('ERR_TSBUILD_DOCKERIGNORE', `invalid pattern "${pattern}": ${(cause as Error).message}`, { cause });
  }
}
