/**
 * The moo lexer for one logical instruction line. Tokens are coarse (whitespace, `--`, flag
 * words, other words) so the grammar does little work per line; the escape character changes
 * what a word may contain, so there is one compiled lexer per escape character.
 */
import moo from 'moo';

export type EscapeChar = '\\' | '`';

const BLANK = '[ \\t\\v\\f\\r]';
const NOT_BLANK = '[^ \\t\\v\\f\\r]';

function build(escape: EscapeChar): moo.Lexer {
  const e = escape === '\\' ? '\\\\' : '`';
  // A flag word: `--` then quoted runs (which may hold blanks), escaped characters or any
  // non-blank character. An unterminated quote runs to the end of the line, as in BuildKit.
  const flag = new RegExp(`--(?:"(?:${e}[^]|[^"${e}])*"?|'(?:${e}[^]|[^'${e}])*'?|${e}[^]?|${NOT_BLANK})*`);
  return moo.compile({
    ws: new RegExp(`${BLANK}+`),
    dashdash: new RegExp(`--(?!${NOT_BLANK})`),
    // Logical lines hold no newlines, but the classes could match one; moo wants that declared.
    flag: { match: flag, lineBreaks: true },
    word: { match: new RegExp(`(?:${e}[^]|${NOT_BLANK})+`), lineBreaks: true },
  });
}

const lexers: Partial<Record<EscapeChar, moo.Lexer>> = {};

/** The lexer for an escape character (compiled once, reset per line). */
export function lexerFor(escape: EscapeChar): moo.Lexer {
  return (lexers[escape] ??= build(escape));
}

/** nearley needs a lexer object at grammar load time; the parser swaps in the right one. */
export const lexer = lexerFor('\\');
