/**
 * When a COPY may read the build context in place instead of through a filtered view.
 *
 * The view (materialize.ts) hard-links every selected file, and a link count change moves the
 * file's ctime: the stat cache then misses on every file and the next build rehashes the whole
 * context (~60 ms for 2,000 files), besides the ~45 ms the links cost. In place is only taken
 * when it reads exactly what the view would hold:
 * - no source has a wildcard (the view's listing would differ from the directory's);
 * - each source and every directory on its way is a plain entry of the walked context: no
 *   symlink to follow (the view resolves links against its own, filtered tree);
 * - no socket or device is selected (the view drops those; the copy engine would refuse them).
 * The copy checks every entry against the returned set, so what .dockerignore excludes, and a
 * file created after the walk (absent from the cache key), is skipped as if absent; it reads
 * xattrs of the selected paths only, never of ignored trees.
 */
import type { ContextEntry } from './checksum.js';
import { selectEntries } from './checksum.js';

const WILDCARD = /[*?[\\]/;

/** The selected context-relative paths when in-place reading is exact, else undefined. */
export function directReadSelection(all: ContextEntry[], patterns: string[]): Set<string> | undefined {
  const byPath = new Map(all.map((e) => [e.path, e]));
  for (const raw of patterns) {
    if (WILDCARD.test(raw)) return undefined;
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return undefined;
    for (let i = 0; i < parts.length; i++) {
      const e = byPath.get(parts.slice(0, i + 1).join('/'));
      const last = i === parts.length - 1;
      if (!e || (e.type !== 'dir' && !(last && (e.type === 'file' || e.fifo)))) return undefined;
    }
  }
  const selected = selectEntries(all, patterns);
  if (selected.some((e) => e.type === 'other' && !e.fifo)) return undefined;
  return new Set(selected.map((e) => e.path));
}
