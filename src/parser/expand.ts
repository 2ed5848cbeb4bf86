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
import { isSpace } from './text.js';

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

/** Collects output: in words mode, unquoted whitespace separates words. */
class Output {
  words: string[] = [];
  cur = '';
  inWord = false;

  constructor(private readonly split: boolean) {}

  /** Unquoted text: may split. */
  add(s: string): void {
    for (const ch of s) {
      if (this.split && isSpace(ch)) {
        if (this.inWord) this.words.push(this.cur);
        this.cur = '';
        this.inWord = false;
      } else {
        this.cur += ch;
        this.inWord = true;
      }
    }
  }

  /** Quoted or escaped text: never splits, and marks a word even when empty (`""`). */
  addRaw(s: string): void {
    this.cur += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.inWord) this.words.push(this.cur);
    return this.words;
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

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
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

  /** Processes until `stop` (consumed) or the end; the text between is written to `out`. */
  run(out: Output, stop?: string): void {
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        if (stop !== undefined) throw expandError(`missing '${stop}' in substitution`);
        return;
      }
      if (stop !== undefined && ch === stop) {
        this.pos++;
        return;
      }
      if (ch === "'") {
        this.pos++;
        out.addRaw(this.singleQuoted());
      } else if (ch === '"') {
        this.pos++;
        out.addRaw(this.doubleQuoted());
      } else if (ch === '$') {
        this.pos++;
        const value = this.dollar();
        if (value.literal) out.addRaw(value.text);
        else out.add(value.text);
      } else if (ch === this.escape) {
        this.pos++;
        const n = this.next();
        if (n !== undefined) out.addRaw(n);
      } else {
        this.pos++;
        out.add(ch);
      }
    }
  }

  private singleQuoted(): string {
    let s = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw expandError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return s;
      s += ch;
    }
  }

  private doubleQuoted(): string {
    let s = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw expandError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') return s;
      if (ch === '$') {
        s += this.dollar().text;
      } else if (ch === this.escape) {
        const n = this.peek();
        // Inside double quotes only `"`, `$` and the escape character itself can be escaped.
        if (n === '"' || n === '$' || n === this.escape) {
          s += n;
          this.pos++;
        } else s += ch;
      } else s += ch;
    }
  }

  private name(): string {
    const first = this.peek();
    if (first === undefined) return '';
    if (/[0-9]/.test(first) || SPECIAL_PARAMS.has(first)) {
      this.pos++;
      return first;
    }
    let n = '';
    while (this.peek() !== undefined && /[A-Za-z0-9_]/.test(this.peek()!)) n += this.next();
    return n;
  }

  /** After a `$`: a name, `${...}`, or a literal dollar. */
  private dollar(): { text: string; literal?: boolean } {
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return { text: '$', literal: true };
      return { text: this.lookup(name) ?? '' };
    }
    this.pos++;
    const name = this.name();
    if (name === '') throw expandError('bad substitution: missing variable name in ${}');
    const op = this.next();
    if (op === '}') return { text: this.lookup(name) ?? '' };
    if (op === undefined) throw expandError(`missing '}' in substitution of ${name}`);
    const value = this.lookup(name);
    switch (op) {
      case ':': {
        const mod = this.next();
        const word = this.subWord();
        if (mod === '-') return { text: value === undefined || value === '' ? word : value };
        if (mod === '+') return { text: value === undefined || value === '' ? '' : word };
        if (mod === '?') {
          if (value === undefined || value === '') throw expandError(`${name}: ${word !== '' ? word : value === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty'}`);
          return { text: value };
        }
        throw expandError(`unsupported modifier (:${mod ?? ''}) in substitution of ${name}`);
      }
      case '-': {
        const word = this.subWord();
        return { text: value === undefined ? word : value };
      }
      case '+': {
        const word = this.subWord();
        return { text: value === undefined ? '' : word };
      }
      case '?': {
        const word = this.subWord();
        if (value === undefined) throw expandError(`${name}: ${word === '' ? 'is not allowed to be unset' : word}`);
        return { text: value };
      }
      case '#':
      case '%': {
        const longest = this.peek() === op;
        if (longest) this.pos++;
        const pattern = this.subPattern('}');
        return { text: trimPattern(value ?? '', pattern, op === '#' ? 'prefix' : 'suffix', longest) };
      }
      case '/': {
        const all = this.peek() === '/';
        if (all) this.pos++;
        const pattern = this.subPattern('/', '}');
        if (this.lastStop !== '/') throw expandError(`syntax error: missing '/' in \${${name}${all ? '//' : '/'}...}`);
        const replacement = this.subWord();
        return { text: replacePattern(value ?? '', pattern, replacement, all) };
      }
      default:
        throw expandError(`unsupported modifier (${op}) in substitution of ${name}`);
    }
  }

  private subWord(): string {
    const out = new Output(false);
    this.run(out, '}');
    return out.cur;
  }

  private lastStop: string | undefined;

  /**
   * A pattern for trimming/substitution, read up to one of `stops` (consumed). `*` and `?` are
   * wildcards; escaped and quoted characters are literal, and so is `[` (BuildKit does not
   * support bracket classes here: `${V#[gh]e}` leaves V unchanged). Returns a regex source.
   */
  private subPattern(...stops: string[]): string {
    let re = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw expandError(`missing '${stops.at(-1)}' in substitution`);
      if (stops.includes(ch)) {
        this.lastStop = ch;
        return re;
      }
      // Patterns follow Go's path.Match, where a backslash escapes whatever the escape directive.
      if (ch === this.escape || ch === '\\') {
        const n = this.next();
        if (n !== undefined) re += escapeRegex(n);
      } else if (ch === "'") re += escapeRegex(this.singleQuoted());
      else if (ch === '"') re += escapeRegex(this.doubleQuoted());
      else if (ch === '$') re += escapeRegex(this.dollar().text);
      else if (ch === '*') re += '[^]*';
      else if (ch === '?') re += '[^]';
      else re += escapeRegex(ch);
    }
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function trimPattern(value: string, pattern: string, side: 'prefix' | 'suffix', longest: boolean): string {
  const re = new RegExp(`^(?:${pattern})$`, 'u');
  const n = value.length;
  if (side === 'prefix') {
    for (let k = longest ? n : 0; longest ? k >= 0 : k <= n; k += longest ? -1 : 1) if (re.test(value.slice(0, k))) return value.slice(k);
  } else {
    for (let k = longest ? 0 : n; longest ? k <= n : k >= 0; k += longest ? 1 : -1) if (re.test(value.slice(k))) return value.slice(0, k);
  }
  return value;
}

/** Replaces the first (or every) longest match of the pattern, as the shell does. */
function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  if (pattern === '') return value;
  const re = new RegExp(`^(?:${pattern})$`, 'u');
  let out = '';
  let i = 0;
  while (i <= value.length) {
    let matchEnd = -1;
    for (let k = value.length; k > i; k--) {
      if (re.test(value.slice(i, k))) {
        matchEnd = k;
        break;
      }
    }
    if (matchEnd === -1) {
      if (i < value.length) out += value[i];
      i++;
      continue;
    }
    out += replacement;
    i = matchEnd;
    if (!all) return out + value.slice(i);
  }
  return out;
}

function expandError(message: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_EXPAND', message);
}

/** Expands one word: quotes removed, variables substituted, no splitting. */
export function expandWord(text: string, env: ExpandEnv, escapeChar: EscapeChar = '\\'): ExpandResult {
  const lexer = new Lexer(text, env, escapeChar);
  const out = new Output(false);
  lexer.run(out);
  return { word: out.cur, matched: lexer.matched, unmatched: lexer.unmatched };
}

/** Expands and splits into words on unquoted whitespace (including whitespace from unquoted expansions). */
export function expandWords(text: string, env: ExpandEnv, escapeChar: EscapeChar = '\\'): ExpandWordsResult {
  const lexer = new Lexer(text, env, escapeChar);
  const out = new Output(true);
  lexer.run(out);
  return { words: out.finish(), matched: lexer.matched, unmatched: lexer.unmatched };
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
