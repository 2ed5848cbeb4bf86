/**
 * Heredoc detection on a logical line (RUN/COPY/ADD, also under ONBUILD). The line is split
 * into shell words; a word `[N]<<[-]NAME` declares a heredoc whose body follows the line. If
 * the line cannot be split (an unbalanced quote, a malformed `${...}`), it declares none, and
 * the would-be body lines are read as instructions, as BuildKit does.
 */
import { isSpace } from './text.js';

export interface HeredocDecl {
  name: string;
  expand: boolean;
  chomp: boolean;
  fd?: number;
}

export const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

/** Shell-word split used only for heredoc detection. Returns undefined if the line does not tokenize. */
export function shellWords(line: string): string[] | undefined {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  const chars = [...line];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') {
      cur += c + (chars[i + 1] ?? '');
      i++;
      inWord = true;
      continue;
    }
    if (c === "'" || c === '"') {
      const close = chars.indexOf(c, i + 1);
      if (close === -1) return undefined;
      if (c === '"') {
        // Escapes inside double quotes keep the quote from closing.
        let j = i + 1;
        while (j < chars.length && chars[j] !== '"') j += chars[j] === '\\' ? 2 : 1;
        if (j >= chars.length) return undefined;
        cur += chars.slice(i, j + 1).join('');
        i = j;
      } else {
        cur += chars.slice(i, close + 1).join('');
        i = close;
      }
      inWord = true;
      continue;
    }
    if (c === '$' && chars[i + 1] === '{') {
      const end = braceEnd(chars, i + 2);
      if (end === undefined) return undefined;
      cur += chars.slice(i, end + 1).join('');
      i = end;
      inWord = true;
      continue;
    }
    if (c === '<' && chars[i + 1] === '<' && chars[i + 2] !== '<' && !inWord) {
      // `<<` followed by blanks is glued to the next word (`<<  EOF` is one word).
      cur += '<<';
      i += 2;
      while (i < chars.length && (chars[i] === ' ' || chars[i] === '\t' || chars[i] === '\r')) i++;
      i--;
      inWord = true;
      continue;
    }
    if (isSpace(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (inWord) words.push(cur);
  return words;
}

/** End index of a `${...}` starting after `${`, or undefined when malformed. */
function braceEnd(chars: string[], start: number): number | undefined {
  let i = start;
  while (i < chars.length && /[A-Za-z0-9_]/.test(chars[i]!)) i++;
  if (i === start) return undefined;
  if (chars[i] === '}') return i;
  if (!/[:\-+?#%/]/.test(chars[i] ?? '')) return undefined;
  let depth = 1;
  for (; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return undefined;
}

const DECL = /^(\d*)<<(-?)\s*([^<]*)$/;

/** Heredocs a line declares, in order. */
export function findHeredocs(line: string): HeredocDecl[] {
  if (!line.includes('<<')) return [];
  const words = shellWords(line);
  if (!words) return [];
  const out: HeredocDecl[] = [];
  for (const w of words) {
    const m = DECL.exec(w);
    if (!m || m[3] === '') continue;
    const raw = m[3]!;
    const name = unquoteWord(raw);
    if (name === undefined || name === '') continue;
    out.push({ name, expand: !/['"\\]/.test(raw), chomp: m[2] === '-', ...(m[1] ? { fd: Number(m[1]) } : {}) });
  }
  return out;
}

/** Removes shell quoting; undefined if the result would be more than one word. */
function unquoteWord(s: string): string | undefined {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else out += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < s.length) out += s[++i];
      else out += c;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') {
      if (i + 1 < s.length) out += s[++i];
    } else if (isSpace(c)) return undefined;
    else out += c;
  }
  return quote === undefined ? out : undefined;
}
