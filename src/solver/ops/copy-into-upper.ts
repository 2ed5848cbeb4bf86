/**
 * A COPY that only adds names (into a new directory, or beside what an existing one holds) can
 * write its files straight into the snapshot's overlay upper dir instead of through the mount.
 * Creating files through overlayfs costs this kernel about twice what the same creates cost on
 * the upper's own filesystem (a 2,000-file COPY: ~150-250 ms against ~100 ms), and the result is the same upper
 * dir, provided what overlayfs would have done on its own is done by hand first:
 * - every existing directory on the way to the destination is "copied up": made in the upper dir
 *   with the lower's mode, owner, xattrs and times (overlayfs keeps a copied-up parent's times);
 * - nothing the copy creates exists yet: the destination is new, or none of the names it makes
 *   directly in an existing destination directory is there, so no decision of the copy
 *   (overwrite, merge, land inside a directory, follow a symlink) can depend on lower content
 *   the upper dir does not show.
 * Anything else (a symlink or a file on the way, a name already there, several actions, wildcard
 * sources, named --chown users looked up in the image's /etc/passwd, archives) keeps the mounted
 * path. The checks read the snapshot's layer dirs as overlayfs merges them (the topmost layer
 * that has a name gives it; a whiteout or a non-directory hides the layers below, and so does an
 * opaque directory for its entries), so the direct path needs no mount at all: a mount, an
 * unmount and a getfattr through the mount cost a COPY ~10-20 ms, one getfattr over the layer
 * dirs ~3 ms.
 */
import { chmod, lchown, lstat, mkdir, readdir, utimes } from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { FileOp } from '../../graph/index.js';
import { chownNeedsNames, cleanRooted, hasWildcard, readXattrsOf, resolveInRoot, writeXattrs, type XattrMap } from '../../fileop/index.js';

/** The existing directories to copy up (top first), with the xattrs each has in the merged view. */
export interface CopyUp {
  dirs: Array<{ rel: string; st: Stats }>;
  /** By `rel`; overlayfs's own trusted.overlay.* names are not part of the view. */
  xattrs: XattrMap;
}

/**
 * What to copy up before writing into the upper dir, or undefined when the copy must go through
 * the mount. `lowerTopFirst` are the snapshot's layer dirs, `inputDir` the root of the copy's sources.
 */
export async function planCopyIntoUpper(op: FileOp, lowerTopFirst: string[], inputDir: string): Promise<CopyUp | undefined> {
  if (op.actions.length !== 1) return undefined;
  const a = op.actions[0]!;
  if (a.action !== 'copy' || a.unpack || a.parents) return undefined;
  // A named user is looked up in the destination's /etc/passwd, which the upper dir lacks.
  if (chownNeedsNames(a.chown)) return undefined;
  // Which names a wildcard makes is the copy's business; so is a source that is not there.
  if (a.allowWildcard && a.src.some((s) => hasWildcard(s))) return undefined;
  const parts = cleanRooted(a.dest).split('/').filter((p) => p !== '');
  if (parts.length === 0) return undefined;

  // Every layer's entry for every directory on the way, then one getfattr over the directories
  // among them: their opaque marks decide which layers the next name is looked up in.
  const found = parts.map((_, i) => {
    const rel = parts.slice(0, i + 1).join('/');
    return { rel, entries: lowerTopFirst.map((dir) => ({ abs: `${dir}/${rel}`, st: lstatQuiet(`${dir}/${rel}`) })) };
  });
  const attrs = await readXattrsOf(found.flatMap((f) => f.entries.filter((e) => e.st?.isDirectory()).map((e) => e.abs)), { overlay: true });
  const opaque = (abs: string): boolean => attrs.get(abs)?.some(([name, value]) => name === 'trusted.overlay.opaque' && value === '0x79') ?? false;

  const existing: CopyUp = { dirs: [], xattrs: new Map() };
  // Indices of the layers the current directory is merged from.
  let layers = lowerTopFirst.map((_, i) => i);
  for (const { rel, entries } of found) {
    const below: number[] = [];
    let top: { abs: string; st: Stats } | undefined;
    for (const i of layers) {
      const { abs, st } = entries[i]!;
      if (!st) continue;
      if (isWhiteout(st)) break;
      top ??= { abs, st };
      if (!st.isDirectory()) break;
      below.push(i);
      if (opaque(abs)) break;
    }
    // The rest of the destination is new: the copy makes it.
    if (!top) return existing;
    if (!top.st.isDirectory()) return undefined;
    existing.dirs.push({ rel, st: top.st });
    const own = (attrs.get(top.abs) ?? []).filter(([name]) => !name.startsWith('trusted.overlay.'));
    if (own.length > 0) existing.xattrs.set(rel, own);
    layers = below;
  }
  // The destination is an existing directory: everything lands in it, under names that must be new.
  const dest = parts.join('/');
  for (const src of a.src) {
    const host = await resolveInRoot(inputDir, src, { followLast: true, escapeError: 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT' }).catch(() => undefined);
    const st = host === undefined ? undefined : await lstat(host).catch(() => undefined);
    if (!st) return undefined;
    // A directory source merges its entries (all of them: ignored ones only make this stricter).
    const names = st.isDirectory() ? await readdir(host!) : [path.posix.basename(cleanRooted(src))];
    for (const name of names) {
      for (const i of layers) {
        const there = lstatQuiet(`${lowerTopFirst[i]!}/${dest}/${name}`);
        if (!there) continue;
        if (isWhiteout(there)) break;
        return undefined;
      }
    }
  }
  return existing;
}

/** lstat, with undefined for a name that is not there (or has a non-directory on its way). */
function lstatQuiet(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR
  }
}

/** Overlay's whiteout: a 0/0 character device. */
const isWhiteout = (st: Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

/** Makes the copied-up directories in `upper` (never while the snapshot is mounted). */
export async function copyUpDirs({ dirs, xattrs }: CopyUp, upper: string): Promise<void> {
  for (const { rel, st } of dirs) {
    const p = path.join(upper, rel);
    await mkdir(p);
    await lchown(p, st.uid, st.gid);
    // After chown, which clears set-id bits.
    await chmod(p, st.mode & 0o7777);
    const attrs = xattrs.get(rel);
    if (attrs) await writeXattrs(p, attrs);
  }
  // Deepest first: making a child moved its parent's times.
  for (const { rel, st } of [...dirs].reverse()) await utimes(path.join(upper, rel), st.atime, st.mtime);
}
