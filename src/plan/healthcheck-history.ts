/**
 * The `created_by` text BuildKit writes for HEALTHCHECK: Go's `%q` applied to a pointer to the
 * healthcheck struct, so `&{` + the fields in declaration order (Test, Interval, Timeout,
 * StartPeriod, StartInterval, Retries) + `}`. Durations print through Go's Duration.String (then
 * quoted), the test list as quoted strings, and Retries, an int, as a quoted rune literal.
 */
import { goQuote } from '../parser/index.js';

/** Go's time.Duration.String for a nanosecond count. */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const u = Math.abs(Math.round(ns));
  const frac = (v: number, digits: number): string => {
    const scale = 10 ** digits;
    const whole = Math.floor(v / scale);
    const rest = String(v % scale).padStart(digits, '0').replace(/0+$/, '');
    return rest ? `${whole}.${rest}` : String(whole);
  };
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u, 3)}µs`;
  if (u < 1e9) return `${sign}${frac(u, 6)}ms`;
  let out = `${frac(u % 60e9, 9)}s`;
  const minutes = Math.floor(u / 60e9);
  if (minutes > 0) {
    out = `${minutes % 60}m${out}`;
    const hours = Math.floor(minutes / 60);
    if (hours > 0) out = `${hours}h${out}`;
  }
  return sign + out;
}

const RUNE_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };

/** Go's `%q` of an integer: a single-quoted rune literal (strconv.QuoteRune). */
export function formatGoRune(n: number): string {
  const esc = RUNE_ESCAPES[n];
  if (esc) return `'${esc}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCodePoint(n)}'`;
  if (n >= 0 && n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  if (n < 0 || n > 0x10ffff || (n >= 0xd800 && n < 0xe000)) return "'�'";
  const ch = String.fromCodePoint(n);
  if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) return `'${ch}'`;
  return n < 0x10000 ? `'\\u${n.toString(16).padStart(4, '0')}'` : `'\\U${n.toString(16).padStart(8, '0')}'`;
}

/** History text for a HEALTHCHECK whose config is `hc` (NONE is `{ Test: ['NONE'] }`). */
export function formatHealthcheckHistory(hc: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }): string {
  const d = (v: number | undefined) => `"${formatGoDuration(v ?? 0)}"`;
  const test = `[${hc.Test.map(goQuote).join(' ')}]`;
  return `HEALTHCHECK &{${test} ${d(hc.Interval)} ${d(hc.Timeout)} ${d(hc.StartPeriod)} ${d(hc.StartInterval)} ${formatGoRune(hc.Retries ?? 0)}}`;
}
