/**
 * Byte-faithful text handling. Dockerfiles may hold invalid UTF-8, and the dump must print such
 * bytes as `\xNN` exactly as BuildKit (Go) does, so decoding keeps them: every byte that is not
 * part of a valid UTF-8 sequence becomes the lone surrogate U+DC00+byte ("surrogate escape").
 * Valid text never contains lone surrogates, so the mapping is reversible.
 */

const ESCAPED_BYTE_BASE = 0xdc00;

/** Decodes UTF-8, mapping each invalid byte b to U+DC00+b. */
export function decodeBytes(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  let i = start;
  // Fast path for ASCII runs.
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      let j = i + 1;
      while (j < end && bytes[j]! < 0x80) j++;
      out += latin1Slice(bytes, i, j);
      i = j;
      continue;
    }
    const n = sequenceLength(bytes, i, end);
    if (n === 0) {
      out += String.fromCharCode(ESCAPED_BYTE_BASE + b);
      i++;
      continue;
    }
    let cp = b & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) cp = (cp << 6) | (bytes[i + k]! & 0x3f);
    out += String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

function latin1Slice(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Length of a valid UTF-8 sequence at i (Go's rules: no overlongs, no surrogates, <= U+10FFFF), or 0. */
function sequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < end && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * The inverse of decodeBytes: UTF-8 encodes the text and turns each escaped byte (U+DC80..U+DCFF)
 * back into its original byte, so heredoc bodies and arguments can be written byte for byte.
 */
export function encodeText(s: string): Uint8Array {
  if (!/[\udc80-\udcff]/.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate before it would make a valid pair; escaped bytes are always unpaired.
    if (isEscapedByte(c) && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) {
      parts.push(Buffer.from(s.slice(from, i), 'utf8'), Buffer.from([c - ESCAPED_BYTE_BASE]));
      from = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

/** Whether a code unit is an escaped invalid byte. */
export function isEscapedByte(code: number): boolean {
  return code >= ESCAPED_BYTE_BASE + 0x80 && code <= ESCAPED_BYTE_BASE + 0xff;
}

/** Go's unicode.IsSpace. */
export function isSpace(c: string): boolean {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case '\u0085':
    case '\u00a0':
    case '\u1680':
    case '\u2028':
    case '\u2029':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default:
      return c >= '\u2000' && c <= '\u200a';
  }
}

/** The ASCII separators BuildKit splits FROM/EXPOSE/flags on. */
export function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\v' || c === '\f' || c === '\r';
}

/** strings.TrimSpace with Go's notion of space. */
export function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a]!)) a++;
  while (b > a && isSpace(s[b - 1]!)) b--;
  return s.slice(a, b);
}

export function trimLeftSpace(s: string): string {
  let a = 0;
  while (a < s.length && isSpace(s[a]!)) a++;
  return s.slice(a);
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote, with escaped invalid bytes printed as \xNN. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch.length === 1 && isEscapedByte(cp)) {
      out += `\\x${(cp - ESCAPED_BYTE_BASE).toString(16).padStart(2, '0')}`;
      continue;
    }
    if (ch === '"' || ch === '\\') {
      out += `\\${ch}`;
      continue;
    }
    if (cp < 0x80 && cp >= 0x20 && cp !== 0x7f) {
      out += ch;
      continue;
    }
    if (cp >= 0x80 && PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    switch (ch) {
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
      default:
        break;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** Replaces lone surrogates (from JSON escapes or escaped bytes) with U+FFFD, as Go's JSON decoder does. */
export function replaceLoneSurrogates(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
