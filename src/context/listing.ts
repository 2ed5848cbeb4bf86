/**
 * A context's stat listing, for the up-to-date check (src/uptodate/): one line per entry a walk
 * of the context visits (mode, owner, size, times in ms, inode), in the walk's order (names
 * sorted, depth first). The context hasher's walk records it at the start of every build; a
 * later invocation walks again and compares, which is what git's index does for `git status`.
 */
import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';

/**
 * The listing line of one entry, from a plain (number) lstat: times in ms as Node gives them,
 * exact to well under a microsecond, far finer than the clock that stamps files. The check runs
 * these for every entry on every no-op: a bigint lstat made it allocate ~30,000 BigInts per
 * 2,000-entry walk, and the collector's pauses for them (~8 ms) were a seventh of a no-op. The
 * build's walk (checksum.ts) lists with the same lstat.
 */
export function statLine(rel: string, st: Stats): string {
  return `${rel}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}\0${st.ino}`;
}

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Whether a walk of `root` that passes over the entries in `skip` (what the build's walk left
 * out: ignored files, and ignored directories with a trailing `/`; a directory that replaced an
 * ignored file may hold re-included names, so the kind must match too) gives exactly `expected`.
 * Stops at the first difference.
 */
export function contextMatchesListing(root: string, skip: ReadonlySet<string>, expected: readonly string[]): boolean {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  let at = 0;
  const visit = (rel: string): boolean => {
    let entries: Dirent[];
    try {
      entries = readdirSync(rel === '' ? root : prefix + rel, { withFileTypes: true }).sort(byName);
    } catch {
      return false;
    }
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (skip.has(entry.isDirectory() ? `${childRel}/` : childRel)) continue;
      const st = lstatSync(prefix + childRel, { throwIfNoEntry: false });
      if (!st || expected[at] !== statLine(childRel, st)) return false;
      at++;
      if (st.isDirectory() && !visit(childRel)) return false;
    }
    return true;
  };
  return visit('') && at === expected.length;
}
