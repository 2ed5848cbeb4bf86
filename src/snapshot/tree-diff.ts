/**
 * Layer creation by comparing two full trees: the copy-based fallback for hosts where overlayfs
 * cannot be mounted. The change list mirrors what an overlay upper dir would hold for the same
 * operations, so both paths emit the same kind of tar:
 *  - an entry that is new, or whose type/mode/owner/mtime/xattrs/content/target/device changed,
 *    is emitted (overlay copies it up);
 *  - a directory is emitted when it changed or anything below it did (overlay copies parents up);
 *  - an entry gone from the new tree becomes a whiteout;
 *  - a non-directory replaced by a directory becomes an opaque directory (overlay marks a
 *    directory created over a whiteout opaque). A directory that was deleted and re-created
 *    cannot be told apart from one that was edited in place; we emit per-entry changes, which
 *    flattens to the same tree.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { emitLayer, readXattrs, sortByBytes, type ChangeItem, type DiffOptions } from './diff.js';

const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function fileHash(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isFile()) return 'f';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  return 's';
}

function sameXattrs(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): boolean {
  const strip = (m: Map<string, Buffer> | undefined) => [...(m ?? new Map<string, Buffer>())].filter(([k]) => !k.startsWith('trusted.overlay.')).sort(([x], [y]) => bytewise(x, y));
  const x = strip(a);
  const y = strip(b);
  return x.length === y.length && x.every(([k, v], i) => y[i]![0] === k && y[i]![1].equals(v));
}

/** Everything about a non-directory entry except its children: equal means overlay would not copy it up. */
async function sameEntry(lowerAbs: string, lo: Stats, newAbs: string, nw: Stats): Promise<boolean> {
  if (kind(lo) !== kind(nw) || lo.mode !== nw.mode || lo.uid !== nw.uid || lo.gid !== nw.gid) return false;
  if (lo.mtimeMs !== nw.mtimeMs && !nw.isDirectory()) return false;
  if (nw.isSymbolicLink()) return (await readlink(lowerAbs)) === (await readlink(newAbs));
  if (nw.isCharacterDevice() || nw.isBlockDevice()) return lo.rdev === nw.rdev;
  if (nw.isFile()) return lo.size === nw.size && (await fileHash(lowerAbs)) === (await fileHash(newAbs));
  return true;
}

/**
 * Builds an uncompressed OCI layer tar of the changes from `lowerView` (the snapshot's starting
 * tree) to `newDir` (the tree after the step).
 */
export function createLayerFromTreeDiff(lowerView: string, newDir: string, options: DiffOptions = {}): Readable {
  return emitLayer(async () => {
    const [lowX, newX] = await Promise.all([readXattrs(lowerView), readXattrs(newDir)]);
    const items: ChangeItem[] = [];
    // Returns whether anything at or below `rel` changed; pushes items in sorted, parents-first order.
    const visitDir = async (rel: string): Promise<boolean> => {
      const lowAbs = rel === '' ? lowerView : path.join(lowerView, rel);
      const newAbs = rel === '' ? newDir : path.join(newDir, rel);
      const lowNames = new Set(await readdir(lowAbs).catch(() => [] as string[]));
      const names = sortByBytes([...new Set([...lowNames, ...(await readdir(newAbs))])]);
      let changed = false;
      for (const n of names) {
        const r = rel === '' ? n : `${rel}/${n}`;
        const la = path.join(lowerView, r);
        const na = path.join(newDir, r);
        const lo = lowNames.has(n) ? await lstat(la).catch(() => undefined) : undefined;
        const nw = await lstat(na).catch(() => undefined);
        if (!nw) {
          if (lo) {
            items.push({ rel: r, abs: la, whiteout: true });
            changed = true;
          }
          continue;
        }
        if (nw.isDirectory()) {
          const at = items.length;
          const replaced = lo !== undefined && !lo.isDirectory();
          const self = lo === undefined || replaced || !(await sameEntry(la, lo, na, nw)) || lo.mtimeMs !== nw.mtimeMs || !sameXattrs(lowX.get(la), newX.get(na));
          // A replaced non-directory: nothing below it exists in the lower tree.
          const below = replaced ? await visitNew(r) : await visitDir(r);
          if (self || below) {
            items.splice(at, 0, { rel: r, abs: na, opaque: replaced });
            changed = true;
          }
          continue;
        }
        if (!lo || !(await sameEntry(la, lo, na, nw)) || !sameXattrs(lowX.get(la), newX.get(na))) {
          items.push({ rel: r, abs: na });
          changed = true;
        }
      }
      return changed;
    };
    // A subtree with no lower counterpart: every entry is new.
    const visitNew = async (rel: string): Promise<boolean> => {
      for (const n of sortByBytes(await readdir(path.join(newDir, rel)))) {
        const r = `${rel}/${n}`;
        items.push({ rel: r, abs: path.join(newDir, r) });
        if ((await lstat(path.join(newDir, r))).isDirectory()) await visitNew(r);
      }
      return true;
    };
    await visitDir('');
    return { items, xattrs: newX };
  }, options);
}
