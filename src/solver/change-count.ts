/**
 * Counts what a layer does to its parent filesystem, for build records: a whiteout deletes, an
 * entry that exists in the lower view changes it, anything else adds. Directories that merely
 * hold changed entries (overlay copies every parent up) are not counted as changes.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';

/** The fields of a diff change item this needs (snapshot/diff.ts ChangeItem). */
export interface ChangeItem {
  rel: string;
  abs: string;
  whiteout?: boolean;
  opaque?: boolean;
  /** The diff walk's lstat of `abs`, when it made one. */
  st?: { isDirectory(): boolean };
}

/** `lower`: the parent's dirs, top first (overlay lower dirs, or the copy snapshot's base view). */
export function countChanges(items: ChangeItem[], lower: string[]): { added: number; changed: number; deleted: number } {
  let added = 0;
  let changed = 0;
  let deleted = 0;
  // Directories no lower dir has: nothing below them can exist there either, so a COPY of a
  // fresh 2,000-file tree costs one lookup per lower dir, not one per file and lower dir.
  const absent = new Set<string>();
  for (const item of items) {
    if (item.whiteout) {
      deleted++;
      continue;
    }
    const slash = item.rel.lastIndexOf('/');
    const below = slash > 0 && absent.has(item.rel.slice(0, slash)) ? undefined : lowerType(lower, item.rel);
    const isDir = item.st ? item.st.isDirectory() : (lstatSync(item.abs, { throwIfNoEntry: false })?.isDirectory() ?? false);
    if (below === undefined) {
      added++;
      if (isDir) absent.add(item.rel);
    } else if (!isDir || below !== 'dir' || item.opaque) changed++;
  }
  return { added, changed, deleted };
}

/** The type of `rel` in the topmost lower dir that has it; a whiteout there means absent. */
function lowerType(lower: string[], rel: string): 'dir' | 'other' | undefined {
  for (const dir of lower) {
    let st;
    try {
      st = lstatSync(path.join(dir, rel), { throwIfNoEntry: false });
    } catch (err) {
      // A parent is a file in this layer (a RUN replaced a file by a directory above it): the
      // path cannot exist here, and this layer hides every one below. throwIfNoEntry covers ENOENT only.
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    return st.isDirectory() ? 'dir' : 'other';
  }
  return undefined;
}
