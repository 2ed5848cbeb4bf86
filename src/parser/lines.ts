/**
 * The line pre-pass: bytes -> physical lines (BOM, CRLF, the 64 KiB line limit), parser
 * directives at the top, then logical lines (continuations, comments and blank lines inside
 * them). Heredoc bodies are consumed by the caller through `takeHeredocBody`.
 */
import { decodeBytes, trimLeftSpace } from './text.js';

export const MAX_LINE_BYTES = 65535;

export interface PhysicalLine {
  /** 1-based line number. */
  no: number;
  /** Text without its trailing CR/LF characters. */
  text: string;
}

export interface DirectiveLine {
  name: string;
  value: string;
  line: number;
}

export class LineError extends Error {
  constructor(
    readonly kind: 'too-long',
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** Splits after each `\n`, drops a leading UTF-8 BOM and trailing CR/LF of each line. */
export function splitPhysicalLines(bytes: Uint8Array): PhysicalLine[] {
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const lines: PhysicalLine[] = [];
  let no = 1;
  while (start < bytes.length) {
    let nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl;
    if (end - start > MAX_LINE_BYTES) throw new LineError('too-long', no, `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`);
    let stop = end;
    while (stop > start && (bytes[stop - 1] === 0x0d || bytes[stop - 1] === 0x0a)) stop--;
    lines.push({ no, text: decodeBytes(bytes, start, stop) });
    no++;
    if (nl === -1) break;
    start = nl + 1;
    nl = -1;
  }
  return lines;
}

const DIRECTIVE = /^#[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

/** Reads the directive block at the top; returns the directives and the index of the first other line. */
export function readDirectives(lines: PhysicalLine[]): { directives: DirectiveLine[]; next: number } {
  const directives: DirectiveLine[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const text = trimLeftSpace(lines[i]!.text);
    const m = DIRECTIVE.exec(text);
    if (!m || m[2] === '' || !KNOWN_DIRECTIVES.has(m[1]!.toLowerCase())) break;
    directives.push({ name: m[1]!.toLowerCase(), value: m[2]!, line: lines[i]!.no });
  }
  return { directives, next: i };
}

export function isCommentLine(text: string): boolean {
  return trimLeftSpace(text).startsWith('#');
}

/** If `text` continues onto the next line, the text without the escape and trailing blanks. */
export function continuationOf(text: string, escape: string): string | undefined {
  let end = text.length;
  while (end > 0 && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  if (end === 0 || text[end - 1] !== escape) return undefined;
  if (end >= 2 && text[end - 2] === escape) return undefined;
  return text.slice(0, end - 1);
}

export interface LogicalLine {
  text: string;
  startLine: number;
  endLine: number;
  /** Line numbers of blank lines inside the continuation (BuildKit warns about them). */
  emptyContinuationLines: number[];
}

/** Reads the next logical line from `lines[i]` on; returns it and the index after it, or undefined at EOF. */
export function nextLogicalLine(lines: PhysicalLine[], i: number, escape: string): { line: LogicalLine; next: number } | undefined {
  for (; i < lines.length; i++) {
    const first = lines[i]!;
    const text = trimLeftSpace(first.text);
    if (text.startsWith('#')) continue;
    const cont = continuationOf(text, escape);
    if (cont === undefined) {
      if (text === '') continue;
      return { line: { text, startLine: first.no, endLine: first.no, emptyContinuationLines: [] }, next: i + 1 };
    }
    let acc = cont;
    let endLine = first.no;
    const empty: number[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (isCommentLine(l.text)) continue;
      if (trimLeftSpace(l.text) === '') {
        empty.push(l.no);
        continue;
      }
      endLine = l.no;
      const c = continuationOf(l.text, escape);
      if (c === undefined) {
        acc += l.text;
        j++;
        return { line: { text: acc, startLine: first.no, endLine, emptyContinuationLines: empty }, next: j };
      }
      acc += c;
    }
    return { line: { text: acc, startLine: first.no, endLine, emptyContinuationLines: empty }, next: j };
  }
  return undefined;
}

/** Consumes a heredoc body from lines[i]; returns the content and the index after the terminator, or undefined if unterminated. */
export function takeHeredocBody(lines: PhysicalLine[], i: number, name: string, chomp: boolean): { content: string; next: number; endLine: number } | undefined {
  let content = '';
  for (let j = i; j < lines.length; j++) {
    const raw = lines[j]!.text;
    const text = chomp ? raw.replace(/^\t+/, '') : raw;
    if (text === name) return { content, next: j + 1, endLine: lines[j]!.no };
    content += `${text}\n`;
  }
  return undefined;
}
