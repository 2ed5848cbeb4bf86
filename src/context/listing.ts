/**
 * A context's stat listing, for the up-to-date check (src/uptodate/): one line per entry a walk
 * of the context visits (mode, owner, size, times in ms, inode), in the walk's order (names
 * sorted, depth first). The context hasher's walk records it at the start of every build; a
 * later invocation walks again and compares, which is what git's index does for `git status`.
 */
import { constants, lstatSync, readdirSync, type Stats } from 'node:fs';
import { listingLstat, type ListingStat } from '../util/fast-lstat.js';

/**
 * Above the kernel's coarse timestamp clock (a tick of 1-10 ms): an entry changed this recently
 * may change again within the same tick and keep every stat field, so its stat cannot vouch for it.
 */
export const RACY_MS = 50;

/**
 * The listing line of one entry, from a plain (number) lstat: times in ms as Node gives them,
 * exact to well under a microsecond, far finer than the clock that stamps files. The check runs
 * these for every entry on every no-op: a bigint lstat made it allocate ~30,000 BigInts per
 * 2,000-entry walk, and the collector's pauses for them (~8 ms) were a seventh of a no-op. The
 * build's walk (checksum.ts) lists with the same lstat.
 */
export function statLine(rel: string, st: ListingStat): string {
  return `${rel}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}\0${st.ino}`;
}

/**
 * Lets a walk go on past an entry whose line differs from the expected one (the caller then
 * vouches for it some other way); `expected` is undefined past the end of the listing, `index`
 * is its position there (-1 for a line looked at outside the walk).
 */
export type ListingTolerance = (rel: string, st: Stats, line: string, expected: string | undefined, index: number) => boolean;

/**
 * Whether two lines are the same entry with the same mode, owner and size, differing only in its
 * times or inode: a touch, a checkout, or an editor that writes a new file for the same content.
 */
export function differsOnlyInTimes(line: string, expected: string | undefined): boolean {
  if (expected === undefined) return false;
  const a = line.split('\0');
  const b = expected.split('\0');
  return a.length === b.length && a.slice(0, 5).every((field, i) => field === b[i]);
}

/**
 * Whether a walk of `root` that passes over the entries in `skip` (what the build's walk left
 * out: ignored files, and ignored directories with a trailing `/`; a directory that replaced an
 * ignored file may hold re-included names, so the kind must match too) gives exactly `expected`.
 * Stops at the first difference `tolerate` does not accept. Plain names and one lstat each (a
 * skipped entry's too): typed directory entries cost more than the lstats they spare (~2 ms of a
 * 2,000-entry walk).
 */
export function contextMatchesListing(root: string, skip: ReadonlySet<string>, expected: readonly string[], tolerate?: ListingTolerance): boolean {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const lstat = listingLstat(root);
  let at = 0;
  const visit = (rel: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(rel === '' ? root : prefix + rel).sort();
    } catch {
      return false;
    }
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = lstat(prefix + childRel);
      if (!st) return false;
      const dir = (st.mode & constants.S_IFMT) === constants.S_IFDIR;
      if (skip.has(dir ? `${childRel}/` : childRel)) continue;
      const line = statLine(childRel, st);
      if (expected[at] !== line && !tolerateWithStats(childRel, prefix + childRel, expected[at], at, tolerate)) return false;
      at++;
      if (dir && !visit(childRel)) return false;
    }
    return true;
  };
  return visit('') && at === expected.length;
}

/** A differing line goes to `tolerate` with a full Stats of the entry (taken again: differences are rare). */
function tolerateWithStats(rel: string, host: string, expected: string | undefined, at: number, tolerate: ListingTolerance | undefined): boolean {
  if (!tolerate) return false;
  const st = lstatSync(host, { throwIfNoEntry: false });
  return st !== undefined && tolerate(rel, st, statLine(rel, st), expected, at);
}
