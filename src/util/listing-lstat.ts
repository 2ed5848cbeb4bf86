/**
 * lstat for the up-to-date check's walk (context/listing.ts), which lstats every context entry
 * on every no-op rebuild: 2,000 calls for ../shared/peers/bench. Through fs.lstatSync each call
 * validates its path, checks the permission model and builds a Stats object; on a fresh process
 * (interpreted, not yet optimised) that was 10-18 ms of a ~50 ms no-op, against ~5 ms for the
 * same syscalls through the fs binding lstatSync itself calls, which fills a shared array.
 *
 * The binding is Node's internal API (reached through process.binding, documented as
 * deprecated), so it is used only after it proved itself on this process's Node: its numbers
 * for the walk's root must equal fs.lstatSync's, field by field. Anything else (another layout,
 * a throw, no binding) selects fs.lstatSync, which gives the same lines only slower. The fields
 * feed lines compared with the ones the build wrote through fs.lstatSync: a wrong field could
 * only make them differ (a full build), never make a changed entry look unchanged.
 */
import { lstatSync } from 'node:fs';

/** The fields of an lstat a listing line is made of (a Stats object has them all). */
export interface ListingStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** lstat of `path`: undefined when it does not exist; throws as lstatSync does otherwise. The object may be reused by the next call. */
export type ListingLstat = (path: string) => ListingStat | undefined;

type RawLstat = (path: string, bigint: boolean, req: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;

const viaFs: ListingLstat = (p) => lstatSync(p, { throwIfNoEntry: false });

let chosen: { via: 'binding' | 'fs'; lstat: ListingLstat } | undefined;

/** The lstat for a walk of `root` (an existing path): the binding's when it proves itself on `root`. */
export function listingLstat(root: string): ListingLstat {
  return (chosen ??= probe(root)).lstat;
}

/** Which lstat listingLstat() chose in this process (undefined before its first call). */
export function listingLstatSource(): 'binding' | 'fs' | undefined {
  return chosen?.via;
}

function probe(root: string): { via: 'binding' | 'fs'; lstat: ListingLstat } {
  const slow = { via: 'fs', lstat: viaFs } as const;
  // Under --pending-deprecation, process.binding warns: the user would see our shortcut's warning.
  if ([...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--pending-deprecation'))) return slow;
  try {
    const raw = (process as unknown as { binding(name: string): { lstat?: unknown } }).binding('fs').lstat;
    if (typeof raw !== 'function') return slow;
    const fast = fromBinding(raw as RawLstat);
    const want = lstatSync(root);
    const got = fast(root);
    const same = got !== undefined && (['mode', 'uid', 'gid', 'size', 'mtimeMs', 'ctimeMs', 'ino'] as const).every((k) => got[k] === want[k]);
    // And a missing entry must read as undefined, not throw.
    const missing = `${root}/.tsbuild-no-such-entry-${process.pid}`;
    return same && lstatSync(missing, { throwIfNoEntry: false }) === undefined && fast(missing) === undefined ? { via: 'binding', lstat: fast } : slow;
  } catch {
    return slow;
  }
}

function fromBinding(raw: RawLstat): ListingLstat {
  const out: ListingStat = { mode: 0, uid: 0, gid: 0, size: 0, mtimeMs: 0, ctimeMs: 0, ino: 0 };
  return (p) => {
    // A path with a NUL byte is refused by fs.lstatSync; the binding would cut it short.
    if (p.includes('\0')) return undefined;
    const a = raw(p, false, undefined, false);
    if (a === undefined) return undefined;
    // Node's layout: dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then
    // seconds and nanoseconds of atime, mtime, ctime and birthtime; ms as Node's Stats makes them.
    out.mode = a[1]!;
    out.uid = a[3]!;
    out.gid = a[4]!;
    out.ino = a[7]!;
    out.size = a[8]!;
    out.mtimeMs = a[12]! * 1e3 + a[13]! / 1e6;
    out.ctimeMs = a[14]! * 1e3 + a[15]! / 1e6;
    return out;
  };
}
