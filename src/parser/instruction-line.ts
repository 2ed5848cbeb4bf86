/**
 * Runs the nearley grammar over one logical line and returns its keyword, flags and the rest.
 * The grammar is unambiguous by construction; the guard below keeps it that way.
 */
import nearley from 'nearley';
import grammar from './grammar.generated.js';
import { lexerFor, type EscapeChar } from './lexer.js';
import type { LineParse } from './line-builders.js';
import { isBlank, trimSpace } from './text.js';

export interface SplitLine {
  keyword: string;
  flags: string[];
  /** The rest after flags, trimmed; '' when there is none. */
  rest: string;
  /** Column (0-based) where the rest starts in the line, for error positions. */
  restColumn: number;
}

// One Grammar per escape character, built once: fromCompiled re-creates every rule object, and
// doing that per line was most of the parse time of a short Dockerfile.
const grammars: Partial<Record<EscapeChar, nearley.Grammar>> = {};

function grammarFor(escape: EscapeChar): nearley.Grammar {
  return (grammars[escape] ??= nearley.Grammar.fromCompiled({ ...(grammar as unknown as nearley.CompiledRules), Lexer: lexerFor(escape) as unknown as nearley.Lexer }));
}

/** Every parse nearley finds for a non-empty logical line (exactly one when the grammar is sound). */
export function grammarParses(line: string, escape: EscapeChar): LineParse[] {
  const parser = new nearley.Parser(grammarFor(escape));
  parser.feed(line);
  return parser.results as LineParse[];
}

/** Splits a trimmed logical line. Throws only on a grammar bug (every line has a parse). */
export function splitInstructionLine(line: string, escape: EscapeChar): SplitLine {
  if (line === '') return { keyword: '', flags: [], rest: '', restColumn: 0 };
  const results = grammarParses(line, escape);
  if (results.length !== 1) {
    throw new Error(`internal: instruction grammar produced ${results.length} parses for ${JSON.stringify(line)}`);
  }
  const r = results[0]!;
  const rest = r.restOffset < 0 ? '' : trimSpace(line.slice(r.restOffset));
  return {
    keyword: r.keyword.text,
    flags: r.flags.map((t) => unquoteFlag(t.text, escape)),
    rest,
    restColumn: r.restOffset < 0 ? line.length : r.restOffset,
  };
}

/**
 * A flag word loses its quotes (their content is kept) and escape characters (the next character is kept).
 * Deliberate divergence from BuildKit: BuildKit scans flags byte by byte and re-encodes every byte
 * >= 0x80 as a Latin-1 code point (`--chown=üser` becomes `--chown=Ã¼ser`, and 0x85/0xA0 bytes split
 * the flag). We work on decoded text, so UTF-8 in flags stays intact; the corpus keeps that case in
 * its `quirks` suite, which therefore fails one case for us by design (test/parser/conformance.test.ts).
 */
export function unquoteFlag(word: string, escape: EscapeChar): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    if (c === escape) {
      if (i + 1 < word.length) out += word[++i];
      continue;
    }
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else out += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    out += c;
  }
  return out;
}

/** The keyword is everything up to the first blank (used for HEALTHCHECK's first word too). */
export function firstWord(s: string): { word: string; rest: string } {
  let i = 0;
  while (i < s.length && !isBlank(s[i])) i++;
  return { word: s.slice(0, i), rest: trimSpace(s.slice(i)) };
}
