/**
 * `--chmod` values: an octal number, or (Dockerfile 1.7+/BuildKit 0.13+) a symbolic mode in
 * chmod(1) syntax such as `u+x,g-w,o=r` or `+x`, applied to each copied file's own mode.
 */
import { TsbuildError } from '../errors/index.js';

/** Maps a source permission mode (lower 12 bits) to the mode the copy gets. */
export type ModeFn = (srcMode: number, isDir: boolean) => number;

/** Parses a --chmod value into a function; undefined keeps source modes. */
export function parseChmod(chmod: number | string | undefined): ModeFn | undefined {
  if (chmod === undefined) return undefined;
  if (typeof chmod === 'number') return () => chmod & 0o7777;
  if (/^[0-7]+$/.test(chmod)) {
    const m = parseInt(chmod, 8);
    if (m > 0o7777) throw new TsbuildError('ERR_TSBUILD_INSTRUCTION_FLAG', `invalid --chmod ${chmod}`);
    return () => m;
  }
  const clauses = chmod.split(',').map(parseClause);
  return (src, isDir) => clauses.reduce((m, c) => c(m, isDir), src & 0o7777);
}

type Clause = (mode: number, isDir: boolean) => number;

const WHO: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

function parseClause(text: string): Clause {
  const m = /^([ugoa]*)([-+=])([rwxXst]*|[ugo])$/.exec(text);
  if (!m) throw new TsbuildError('ERR_TSBUILD_INSTRUCTION_FLAG', `invalid --chmod clause ${JSON.stringify(text)}`);
  const who = m[1]!;
  const op = m[2]!;
  const perms = m[3]!;
  // No "who" means "a" (BuildKit's parser does not apply the umask).
  let mask = 0;
  for (const w of who || 'a') mask |= WHO[w]!;
  return (mode, isDir) => {
    let bits = 0;
    if (perms === 'u' || perms === 'g' || perms === 'o') {
      const shift = perms === 'u' ? 6 : perms === 'g' ? 3 : 0;
      const v = (mode >> shift) & 7;
      bits = (v << 6) | (v << 3) | v;
    } else {
      for (const p of perms) {
        if (p === 'r') bits |= 0o444;
        else if (p === 'w') bits |= 0o222;
        else if (p === 'x') bits |= 0o111;
        else if (p === 'X') {
          if (isDir || (mode & 0o111) !== 0) bits |= 0o111;
        } else if (p === 's') bits |= 0o6000;
        else if (p === 't') bits |= 0o1000;
      }
    }
    bits &= mask;
    if (op === '+') return mode | bits;
    if (op === '-') return mode & ~bits;
    const clear = mask & 0o777 | (mask & 0o6000) | (who === '' || who.includes('a') || who.includes('o') ? 0o1000 : 0);
    return (mode & ~clear) | bits;
  };
}
