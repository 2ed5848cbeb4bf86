/**
 * Re-running a COPY of the context after an edit, part two (part one: copy-reuse.ts). Hard-linking
 * the unchanged files into a new layer dir is still a link() per file, ~50 ms for the bench's
 * 2,000 files, and every later step waited for it. When the copy reads the same names of the same
 * kinds as its previous run, the files that differ are few and none has a second name, the step
 * copies only those (with every directory, so that the directories' metadata is this run's) into
 * a small delta dir. Later steps of the build see the delta over the previous run's layer dir:
 * overlayfs shows each name from the topmost dir that has it, so the view is the copy's result.
 * The layer itself is then made as before, in the background while the next RUN's process runs,
 * with the changed files linked from the delta dir instead of read again (the layer and the view
 * hold the same inodes), and committed under the id the step already returned (its dir appears
 * only once complete; a killed build leaves a record whose dir is missing: a cache miss).
 *
 * Any doubt keeps the plain path: another copy shape (wildcards, several sources, a source that
 * is not a directory of the context), a name added, removed or of another kind (a removal would
 * need a whiteout, which would also hide what lower layers hold at that path), more than
 * MAX_CHANGED differing entries, or a changed file with several names (the layer must keep them
 * one inode).
 */
import type { Stats } from 'node:fs';
import path from 'node:path';
import { hasWildcard } from '../../fileop/index.js';
import type { CopyAction } from '../../graph/index.js';
import { entriesDigest, type CopyReuse } from './copy-reuse.js';

/** Beyond this many differing entries the delta saves little over linking the whole layer. */
const MAX_CHANGED = 256;

export interface CopyDelta {
  /** entriesDigest() of what the copy reads (saved with the layer for the next run). */
  entries: string;
  /** Present when the delta path applies. */
  delta?: {
    /** The previous run's layer dir: the view's lower part. */
    previous: string;
    /** What the delta copy may see (context-relative): the source, its directories and the entries that differ. */
    visible: ReadonlySet<string>;
    /** Host paths (as the copy names sources) of the files that differ: linked from the delta dir into the layer. */
    changed: ReadonlySet<string>;
  };
}

/**
 * What a copy of the local context reads (`visible` and `stat` from the context's walk,
 * `contextDir` its root), compared with the previous run's record; undefined for a copy shape the
 * delta path does not cover.
 */
export function planCopyDelta(a: CopyAction, contextDir: string, visible: ReadonlySet<string>, stat: ((rel: string) => Stats | undefined) | undefined, reuse: CopyReuse): CopyDelta | undefined {
  if (!stat || a.src.length !== 1 || (a.allowWildcard && hasWildcard(a.src[0]!)) || a.exclude.length > 0) return undefined;
  const parts = a.src[0]!.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  const srcRel = parts.join('/');
  // A plain directory of the context (no symlink on the way: the copy would follow it).
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    if (!visible.has(rel) || !stat(rel)?.isDirectory()) return undefined;
  }
  const under = srcRel === '' ? [...visible] : [...visible].filter((p) => p.startsWith(`${srcRel}/`));
  const kinds: Array<[string, 'dir' | 'file' | 'other']> = [];
  for (const rel of under) {
    const st = stat(rel);
    if (!st) return undefined;
    kinds.push([rel, st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other']);
  }
  const entries = entriesDigest(kinds);
  const previous = reuse.previousLayer(entries);
  if (previous === undefined) return { entries };

  // Source host paths exactly as the copy joins them (fileop/apply.ts, copy-tree.ts).
  const root = path.normalize(contextDir);
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const seen = new Set<string>(srcRel === '' ? [] : [srcRel]);
  const changed = new Set<string>();
  let differing = 0;
  for (const [rel, kind] of kinds) {
    if (kind === 'dir') {
      seen.add(rel);
      continue;
    }
    const st = stat(rel)!;
    const host = prefix + rel;
    if (kind === 'file' && reuse.wouldReuse(host, st)) continue;
    if (++differing > MAX_CHANGED || (kind === 'file' && st.nlink > 1)) return { entries };
    seen.add(rel);
    if (kind === 'file') changed.add(host);
  }
  return { entries, delta: { previous, visible: seen, changed } };
}
