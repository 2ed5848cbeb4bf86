/**
 * Per-instruction argument rules (BuildKit's line parsers): JSON exec form with its fallback,
 * whitespace splitting, whole-rest arguments, shell-like words for ARG, and key/value pairs for
 * ENV and LABEL. Errors are thrown as ArgsError and located by the caller.
 */
import type { ErrorCode } from '../errors/index.js';
import type { KeyValue } from './ast.js';
import type { EscapeChar } from './lexer.js';
import { firstWord } from './instruction-line.js';
import { isBlank, isSpace, replaceLoneSurrogates } from './text.js';

export class ArgsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Text of the offending part, so the caller can point at its column in the source. */
    readonly needle?: string,
  ) {
    super(message);
  }
}

export interface ParsedArgs {
  args: string[];
  json: boolean;
  pairs?: KeyValue[];
}

export const KNOWN_INSTRUCTIONS = new Set([
  'from', 'run', 'cmd', 'label', 'maintainer', 'expose', 'env', 'add', 'copy', 'entrypoint',
  'volume', 'user', 'workdir', 'arg', 'onbuild', 'stopsignal', 'healthcheck', 'shell',
]);

/** Instructions whose rest may be a JSON array (exec form). */
const JSON_FORMS = new Set(['run', 'cmd', 'entrypoint', 'shell', 'add', 'copy', 'volume']);

/**
 * Parses a JSON array of strings. Returns undefined when the text is not JSON at all (the
 * caller falls back to the plain form); throws when it is a JSON array with non-strings.
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const text = rest.replace(/^[ \t\n\r]+/, '');
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'string')) {
    throw new ArgsError('ERR_TSBUILD_PARSE_JSON', 'when using JSON array syntax, arrays must be comprised of strings only', '[');
  }
  return (value as string[]).map(replaceLoneSurrogates);
}

/** Splits on runs of ASCII blanks (FROM, EXPOSE, non-JSON COPY/ADD/VOLUME). */
export function splitBlanks(rest: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const c of rest) {
    if (isBlank(c)) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * Shell-like words for ARG/ENV/LABEL: whitespace outside quotes separates; quotes and escape
 * sequences stay in the word (expansion removes them later); inside single quotes the escape
 * character is ordinary; a trailing lone escape character is dropped.
 */
export function splitWords(rest: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  const chars = [...rest];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (quote === undefined && isSpace(c)) {
      if (cur !== '') words.push(cur);
      cur = '';
      continue;
    }
    if (c === escape && quote !== "'") {
      if (i + 1 >= chars.length) break;
      cur += c + chars[++i]!;
      continue;
    }
    if (quote === undefined && (c === '"' || c === "'")) quote = c;
    else if (quote === c) quote = undefined;
    cur += c;
  }
  if (cur !== '') words.push(cur);
  return words;
}

function parsePairs(keyword: string, rest: string, escape: EscapeChar): ParsedArgs {
  const words = splitWords(rest, escape);
  if (words.length === 0) return { args: [], json: false, pairs: [] };
  const upper = keyword.toUpperCase();
  const pairs: KeyValue[] = [];
  if (!words[0]!.includes('=')) {
    // Legacy `ENV key value`: one key, the value is the verbatim remainder.
    let i = 0;
    while (i < rest.length && !isBlank(rest[i])) i++;
    const key = rest.slice(0, i);
    let j = i;
    while (j < rest.length && isBlank(rest[j])) j++;
    if (j >= rest.length) throw new ArgsError('ERR_TSBUILD_PARSE_ENV_FORM', `${upper} must have two arguments`, key);
    pairs.push({ key, value: rest.slice(j), separator: '' });
  } else {
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq === -1) {
        throw new ArgsError('ERR_TSBUILD_PARSE_ENV_FORM', `Syntax error - can't find = in "${w}". Must be of the form: name=value`, w);
      }
      pairs.push({ key: w.slice(0, eq), value: w.slice(eq + 1), separator: '=' });
    }
  }
  return { args: pairs.flatMap((p) => [p.key, p.value, p.separator]), json: false, pairs };
}

/** Arguments of a non-ONBUILD instruction from its rest text. */
export function parseArgs(keyword: string, rest: string, escape: EscapeChar): ParsedArgs {
  if (!KNOWN_INSTRUCTIONS.has(keyword)) return { args: [''], json: false };
  if (rest === '') return { args: [], json: false, ...(keyword === 'env' || keyword === 'label' ? { pairs: [] } : {}) };
  if (JSON_FORMS.has(keyword)) {
    const json = parseJsonArray(rest);
    if (json !== undefined) return { args: json, json: true };
  }
  switch (keyword) {
    case 'from':
    case 'expose':
    case 'add':
    case 'copy':
    case 'volume':
      return { args: splitBlanks(rest), json: false };
    case 'run':
    case 'cmd':
    case 'entrypoint':
    case 'shell':
    case 'maintainer':
    case 'user':
    case 'workdir':
    case 'stopsignal':
      return { args: [rest], json: false };
    case 'arg':
      return { args: splitWords(rest, escape), json: false };
    case 'env':
    case 'label':
      return parsePairs(keyword, rest, escape);
    case 'healthcheck': {
      const { word, rest: cmd } = firstWord(rest);
      if (cmd === '') return { args: [word], json: false };
      const json = parseJsonArray(cmd);
      if (json !== undefined) return { args: [word, ...json], json: true };
      return { args: [word, cmd], json: false };
    }
    default:
      return { args: [''], json: false };
  }
}
