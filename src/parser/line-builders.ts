/**
 * Typed builders called from the grammar's postprocessors (nearleyc output is untyped, so the
 * .ne file only forwards tokens here).
 */
import type { Token } from 'moo';

export interface LineParse {
  keyword: Token;
  flags: Token[];
  /** Offset of the first character of the rest, or -1 when there is none. */
  restOffset: number;
}

export function lineNode(keyword: Token, flags: Token[], rest: number): LineParse {
  return { keyword, flags, restOffset: rest };
}

export function restNode(first: Token): number {
  return first.offset;
}

export function noRest(): number {
  return -1;
}
