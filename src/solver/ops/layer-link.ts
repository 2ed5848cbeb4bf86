/**
 * COPY --from another stage reads a read-only overlay mount of that stage's layer dirs. A regular
 * file seen there is an inode of one of those dirs, and layer dirs are never written once adopted
 * (overlay lowers are read-only; copy snapshots unpack fresh inodes), so a copy that keeps the
 * source's owner, mode, times and xattrs can hard-link that inode into the new upper dir instead
 * of reading and writing the bytes: one link() against ~10 calls per file. The layer tar is the
 * same (it stores whole-second times and sees no link outside its own dir); copy-reuse.ts relies
 * on the same property of layer dirs.
 *
 * The file the mount shows at a path is the one in the topmost layer dir that has that path: a
 * layer above it holding a whiteout, an opaque parent or a non-directory parent would have hidden
 * it from the mount. The candidate must also be the very inode the mount reported (same inode
 * number, size, mode, owner and mtime), have no other name yet, and lie in none of the layers
 * the destination is stacked on: either would let one view show the copy and its source as one
 * hard-linked file (`COPY --from=s /a /b /dir/` gives BuildKit two files; so does
 * `FROM s` + `COPY --from=s /a /b` for later steps' `tar` or `cp -a`). Anything else is copied
 * as before, hard links inside the source included (copy-tree.ts keeps those within one source).
 */
import { lstatSync, type Stats } from 'node:fs';

/** Where `src` (a host path under `mountDir`) lives in `lowerTopFirst`, when it may be linked. */
export function createLayerLinker(mountDir: string, lowerTopFirst: readonly string[], destLower: ReadonlySet<string>): (src: string, st: Stats) => string | undefined {
  const prefix = mountDir.endsWith('/') ? mountDir : `${mountDir}/`;
  return (src, st) => {
    if (!src.startsWith(prefix) || !st.isFile()) return undefined;
    const rel = src.slice(prefix.length);
    for (const layer of lowerTopFirst) {
      const candidate = `${layer}/${rel}`;
      const found = lstatSync(candidate, { throwIfNoEntry: false });
      if (!found) continue;
      const same = found.isFile() && found.nlink === 1 && found.ino === st.ino && found.size === st.size && found.mode === st.mode && found.uid === st.uid && found.gid === st.gid && found.mtimeMs === st.mtimeMs;
      return same && !destLower.has(layer) ? candidate : undefined;
    }
    return undefined;
  };
}
