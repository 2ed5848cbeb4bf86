/**
 * Word expansion with the semantics of BuildKit's Dockerfile shell lexer: `$v`, `${v}`, the
 * `:-  -  :+  +  :?  ?` modifiers, prefix/suffix trimming (`# ## % %%`), substitution (`/ //`),
 * single and double quotes and the escape character. Unset variables expand to nothing; which
 * names were found and which were not is reported (for the unused-build-arg warning and lint).
 *
 * expandWord processes one word (quotes removed). expandWords also splits the result into words
 * on unquoted whitespace, including whitespace that came out of an unquoted expansion.
 */
import { TsbuildError } from '../errors/index.js';
import { replacePattern, trimPrefix, trimSuffix } from './expand-pattern.js';

export type EscapeChar = '\\' | '`';
export type ExpandEnv = Map<string, string> | ((name: string) => string | undefined);

export interface ExpandResult {
  word: string;
  matched: Set<string>;
  unmatched: Set<string>;
}

export interface ExpandWordsResult {
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
/** Go's unicode.IsSpace, which BuildKit uses to split words. */
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const DIGIT = /^\p{Nd}$/u;
const NAME_CHAR = /^[\p{L}\p{Nd}_]$/u;

/**
 * Collects words in ProcessWords mode. Unquoted whitespace (also whitespace coming out of an
 * unquoted `$` expansion) ends a word; quoted or escaped text never does. A word that stayed
 * empty (`""` alone) is dropped, as BuildKit drops it (seen with `EXPOSE 80 ""`).
 */
class Words {
  readonly list: string[] = [];
  private buf = '';
  private inWord = false;

  add(s: string): void {
    for (const ch of s) {
      if (!SPACE.test(ch)) this.addRaw(ch);
      else if (this.inWord && this.buf !== '') {
        this.list.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    }
  }

  addRaw(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buf !== '') this.list.push(this.buf);
    this.buf = '';
    return this.list;
  }
}

class Lexer {
  private pos = 0;
  private readonly chars: string[];
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    text: string,
    private readonly env: ExpandEnv,
    private readonly escape: EscapeChar,
  ) {
    this.chars = [...text];
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  private lookup(name: string): string | undefined {
    const value = typeof this.env === 'function' ? this.env(name) : this.env.get(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }

  /**
   * Processes text up to `stop` (consumed) or the end. In `raw` mode (patterns and
   * replacements) escape characters are kept in the result, for the pattern compiler to read.
   */
  run(stop: string | undefined, raw: boolean, words?: Words, missing?: string): string {
    let result = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (stop !== undefined && ch === stop) {
        this.pos++;
        return result;
      }
      if (ch === '$') {
        const text = this.dollar();
        result += text;
        words?.add(text);
      } else if (ch === "'" || ch === '"') {
        const text = ch === "'" ? this.singleQuoted() : this.doubleQuoted(raw);
        result += text;
        words?.addRaw(text);
      } else {
        this.pos++;
        if (ch === this.escape) {
          if (raw) {
            result += ch;
            words?.addRaw(ch);
          }
          const n = this.next();
          if (n === undefined) break;
          result += n;
          words?.addRaw(n);
        } else {
          result += ch;
          words?.add(ch);
        }
      }
    }
    if (stop !== undefined) throw expandError(missing ?? `unexpected end of statement while looking for matching ${stop}`);
    return result;
  }

  private singleQuoted(): string {
    this.pos++;
    let s = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw expandError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return s;
      s += ch;
    }
  }

  private doubleQuoted(raw: boolean): string {
    this.pos++;
    let s = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw expandError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.pos++;
        return s;
      }
      if (ch === '$') {
        s += this.dollar();
        continue;
      }
      this.pos++;
      if (ch !== this.escape) {
        s += ch;
        continue;
      }
      if (raw) s += ch;
      const n = this.peek();
      if (n === undefined) continue;
      // Inside double quotes only `"`, `$` and the escape character itself can be escaped;
      // before anything else the escape character stays (twice in raw mode, as in BuildKit).
      if (n === '"' || n === '$' || n === this.escape) {
        s += n;
        this.pos++;
      } else s += ch;
    }
  }

  /** A variable name: a run of digits (positional), one special character, or letters/digits/_. */
  private name(): string {
    const first = this.peek();
    if (first === undefined) return '';
    if (DIGIT.test(first)) {
      let n = '';
      while (this.peek() !== undefined && DIGIT.test(this.peek()!)) n += this.next();
      return n;
    }
    if (SPECIAL_PARAMS.has(first)) {
      this.pos++;
      return first;
    }
    let n = '';
    while (this.peek() !== undefined && NAME_CHAR.test(this.peek()!)) n += this.next();
    return n;
  }

  /** At a `$`: a name, `${...}`, or a literal dollar. */
  private dollar(): string {
    this.pos++;
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.lookup(name) ?? '';
    }
    this.pos++;
    const first = this.peek();
    if (first === undefined) throw expandError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw expandError('syntax error: bad substitution');
    const name = this.name();
    let op = this.next();
    if (op === '}') return this.lookup(name) ?? '';
    if (op === undefined) throw expandError("syntax error: missing '}'");
    let colon = false;
    if (op === ':') {
      colon = true;
      op = this.next();
      if (op === undefined) throw expandError("syntax error: missing '}'");
    }
    const modifier = (colon ? ':' : '') + op;
    if (op === '/' && !colon) return this.substitute(name);
    if (!['-', '+', '?', '#', '%'].includes(op)) throw expandError(`unsupported modifier (${modifier}) in substitution`);
    const trim = op === '#' || op === '%';
    const word = this.run('}', trim, undefined, "syntax error: missing '}'");
    const value = this.lookup(name);
    // With a colon an empty value counts as unset (BuildKit 0.13 ignores the colon for # and %).
    const unset = value === undefined || (colon && value === '');
    switch (op) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (unset) throw expandError(`${name}: ${word !== '' ? word : value === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty'}`);
        return value!;
      default: {
        const greedy = word.startsWith(op);
        const pattern = greedy ? word.slice(1) : word;
        return op === '#' ? trimPrefix(pattern, value ?? '', greedy) : trimSuffix(pattern, value ?? '', greedy);
      }
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`. */
  private substitute(name: string): string {
    const all = this.peek() === '/';
    if (all) this.pos++;
    const pattern = this.run('/', true, undefined, "syntax error: missing '/' in ${}");
    const replacement = this.run('}', true, undefined, "syntax error: missing '}'");
    return replacePattern(pattern, this.lookup(name) ?? '', replacement, all);
  }
}

function expandError(message: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_EXPAND', message);
}

/** Expands one word: quotes removed, variables substituted, no splitting. */
export function expandWord(text: string, env: ExpandEnv, escapeChar: EscapeChar = '\\'): ExpandResult {
  const lexer = new Lexer(text, env, escapeChar);
  const word = lexer.run(undefined, false);
  return { word, matched: lexer.matched, unmatched: lexer.unmatched };
}

/** Expands and splits into words on unquoted whitespace (including whitespace from unquoted expansions). */
export function expandWords(text: string, env: ExpandEnv, escapeChar: EscapeChar = '\\'): ExpandWordsResult {
  const lexer = new Lexer(text, env, escapeChar);
  const words = new Words();
  lexer.run(undefined, false, words);
  return { words: words.finish(), matched: lexer.matched, unmatched: lexer.unmatched };
}

/** The result of expanding the KEY=VALUE pairs of one instruction. */
export interface ExpandPairsResult {
  pairs: Array<[string, string]>;
  matched: Set<string>;
  unmatched: Set<string>;
}

/**
 * Expands the values of one instruction's KEY=VALUE pairs (ENV, ARG, LABEL) all against the
 * same starting env: BuildKit substitutes the whole instruction before any pair takes effect,
 * so `ENV a=new b=$a` gives b the value a had before the instruction (confirmed on Docker 26,
 * and the same holds for ARG and LABEL). Keys are taken literally.
 */
export function expandEnvPairs(pairs: ReadonlyArray<readonly [string, string]>, env: ExpandEnv, escapeChar: EscapeChar = '\\'): ExpandPairsResult {
  const matched = new Set<string>();
  const unmatched = new Set<string>();
  const out: Array<[string, string]> = [];
  for (const [key, value] of pairs) {
    const r = expandWord(value, env, escapeChar);
    for (const n of r.matched) matched.add(n);
    for (const n of r.unmatched) unmatched.add(n);
    out.push([key, r.word]);
  }
  return { pairs: out, matched, unmatched };
}
