/**
 * A context's stat listing, for the up-to-date check (src/uptodate/): one line per entry a walk
 * of the context visits (mode, owner, size, times in ns, inode), in the walk's order (names
 * sorted, depth first). The context hasher's walk records it at the start of every build; a
 * later invocation walks again and compares, which is what git's index does for `git status`.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';

/** The listing line of one entry. */
export function statLine(rel: string, st: BigIntStats): string {
  return `${rel}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}`;
}

/**
 * Whether a walk of `root` that passes over the paths in `skip` (entries the build's walk left
 * out: ignored files, pruned directories) gives exactly `expected`. Stops at the first difference.
 */
export function contextMatchesListing(root: string, skip: ReadonlySet<string>, expected: readonly string[]): boolean {
  const prefix = root.endsWith('/') ? root : `${root}/`;
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
      if (skip.has(childRel)) continue;
      const st = lstatSync(prefix + childRel, { bigint: true, throwIfNoEntry: false });
      if (!st || expected[at] !== statLine(childRel, st)) return false;
      at++;
      if (st.isDirectory() && !visit(childRel)) return false;
    }
    return true;
  };
  return visit('') && at === expected.length;
}
