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

const compiled: Partial<Record<EscapeChar, nearley.CompiledRules>> = {};

function compiledFor(escape: EscapeChar): nearley.CompiledRules {
  return (compiled[escape] ??= { ...(grammar as unknown as nearley.CompiledRules), Lexer: lexerFor(escape) as unknown as nearley.Lexer });
}

/** Splits a trimmed logical line. Throws only on a grammar bug (every line has a parse). */
export function splitInstructionLine(line: string, escape: EscapeChar): SplitLine {
  if (line === '') return { keyword: '', flags: [], rest: '', restColumn: 0 };
  const parser = new nearley.Parser(nearley.Grammar.fromCompiled(compiledFor(escape)));
  parser.feed(line);
  const results = parser.results as LineParse[];
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

/** A flag word loses its quotes (their content is kept) and escape characters (the next character is kept). */
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
