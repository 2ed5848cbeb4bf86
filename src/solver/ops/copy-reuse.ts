/**
 * Re-running a COPY of the context after an edit: most of its files are exactly what the layer
 * from the previous run of the same COPY holds. Those are hard-linked from that layer dir instead
 * of copied (one link() against create, write, chown, chmod and utimes), so a one-file edit of a
 * 2,000-file COPY costs about as much as the edit.
 *
 * A file is linked only when its source is provably unchanged since that copy: same inode, size,
 * mode, owner, mtime and ctime (a write, chmod, chown or xattr change moves ctime), the same rule
 * as the context's stat cache. Files changed just before the build are not recorded: file times
 * come from the kernel's coarse clock (a tick of 1-10 ms), so a second change within the tick of
 * the first could leave every field as it was. Layer dirs are never written after they are
 * adopted (overlay lowers are read-only, other snapshots copy), so a shared inode cannot change
 * under either layer; the layer tar and its digest are the same as a plain copy gives.
 *
 * The record (source path -> stat signature, plus the layer made) lives in
 * <root>/cache/copy-reuse/<hash of the COPY's definition>.json, replaced by each run; a missing,
 * unreadable or pruned one only means copying.
 */
import { linkSync, lstatSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CopyAction } from '../../graph/index.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { digestHex, isDigest, sha256, type Digest } from '../../util/digest.js';
import type { CopyReuseHooks } from '../../fileop/index.js';
import { RACY_MS } from '../../context/index.js';

interface Record {
  layer: Digest;
  /** Inode and ctime of the layer dir once adopted: a dir pruned and unpacked again is another one. */
  dir: string;
  files: { [src: string]: string };
}

export interface CopyReuse extends CopyReuseHooks {
  /** Remembers this run's files as copied into `layer` (after it is committed). */
  save(layer: Digest): Promise<void>;
}

const dirSignature = (dir: string): string | undefined => {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  return st?.isDirectory() ? `${st.ino}:${st.ctimeMs}` : undefined;
};
const signature = (st: Stats): string => `${st.ino}:${st.size}:${st.mode}:${st.uid}:${st.gid}:${st.mtimeMs}:${st.ctimeMs}`;


export async function openCopyReuse(options: { stateRoot: string; contextDir: string; action: CopyAction; upper: string; layerDir(diffId: Digest): string }): Promise<CopyReuse> {
  const { action: a, upper } = options;
  const shape = JSON.stringify([options.contextDir, a.src, a.dest, a.chown ?? null, a.chmod ?? null, a.exclude, a.link, a.allowWildcard, a.allowEmptyWildcard]);
  const file = path.join(options.stateRoot, 'cache', 'copy-reuse', `${digestHex(sha256(shape)).slice(0, 32)}.json`);
  let previous: Record | undefined;
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Record;
    if (isDigest(r.layer) && r.files && typeof r.files === 'object') previous = r;
  } catch {
    // none yet, or unreadable: copy everything
  }
  const oldDir = previous ? options.layerDir(previous.layer) : undefined;
  // Files of a layer dir are never changed once it is adopted, so the dir being the same one this
  // copy made vouches for every file in it.
  if (previous && dirSignature(oldDir!) !== previous.dir) previous = undefined;
  const startedAt = Date.now();
  const files: { [src: string]: string } = {};
  // The walk's Stats reach wouldReuse, copied and reuse in turn: each signature is made once.
  const made = new WeakMap<Stats, string>();
  const sig = (st: Stats): string => {
    let s = made.get(st);
    if (s === undefined) made.set(st, (s = signature(st)));
    return s;
  };

  return {
    wouldReuse: (src, st) => previous !== undefined && st !== undefined && st.isFile() && previous.files[src] === sig(st),
    reuse(src, st, target) {
      if (!previous || previous.files[src] !== sig(st)) return false;
      // Targets lie under the upper dir: slicing spares path.relative and path.join their normalising, per file.
      const rel = target.startsWith(`${upper}/`) ? target.slice(upper.length + 1) : path.relative(upper, target);
      try {
        linkSync(`${oldDir!}/${rel}`, target);
        return true;
      } catch {
        return false;
      }
    },
    copied(src, st) {
      if (st.ctimeMs < startedAt - RACY_MS) files[src] = sig(st);
    },
    async save(layer) {
      const dir = dirSignature(options.layerDir(layer));
      if (dir === undefined) return;
      // Best effort: without a record the next run copies.
      await writeFileAtomic(file, JSON.stringify({ layer, dir, files } satisfies Record)).catch(() => {});
    },
  };
}
