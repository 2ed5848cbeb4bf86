/**
 * lstat for the two walks over every context entry: the up-to-date check's (context/listing.ts,
 * on every no-op rebuild) and the context hasher's (context/checksum.ts, at the start of every
 * other build): 2,000 calls each for ../shared/peers/bench. Through fs.lstatSync each call
 * validates its path, checks the permission model and builds a Stats object with four Dates; in
 * a fresh process (interpreted, not yet optimised) the check's walk took 10-18 ms and the
 * hasher's ~17 ms, against ~5 ms for the same syscalls through the fs binding that lstatSync
 * itself calls, which fills a shared array.
 *
 * The binding is Node's internal API (reached through process.binding, documented as
 * deprecated), so it is used only after it proved itself on this process's Node: its numbers
 * for the walk's root must equal fs.lstatSync's, field by field, Dates included. Anything else
 * (another layout, a throw, no binding) selects fs.lstatSync, which gives the same results only
 * slower. Listing lines made from a wrong field could only differ from the ones a build wrote
 * (a full build), never make a changed entry look unchanged.
 */
import { constants, lstatSync, type Stats } from 'node:fs';

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

/** fs.lstatSync(path): a Stats (an object of its own per call), or its error, ENOENT included. */
export type StatsLstat = (path: string) => Stats;

type RawLstat = (path: string, bigint: boolean, req: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;

/**
 * The binding's layout: dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then the
 * seconds and nanoseconds of atime, mtime, ctime and birthtime. Times in ms as Node's Stats has them.
 */
const ms = (a: Float64Array, at: 10 | 12 | 14 | 16): number => a[at]! * 1e3 + a[at + 1]! / 1e6;

/**
 * A Stats made from the binding's numbers as Node makes one (the same ms arithmetic, Dates from
 * the rounded ms), except that each Date is made when first read: most entries of a walk are
 * never asked for theirs.
 */
class BindingStats implements Stats {
  dev: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  ino: number;
  size: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthtimeMs: number;
  #dates: [Date?, Date?, Date?, Date?] = [];

  constructor(a: Float64Array) {
    this.dev = a[0]!;
    this.mode = a[1]!;
    this.nlink = a[2]!;
    this.uid = a[3]!;
    this.gid = a[4]!;
    this.rdev = a[5]!;
    this.blksize = a[6]!;
    this.ino = a[7]!;
    this.size = a[8]!;
    this.blocks = a[9]!;
    this.atimeMs = ms(a, 10);
    this.mtimeMs = ms(a, 12);
    this.ctimeMs = ms(a, 14);
    this.birthtimeMs = ms(a, 16);
  }

  get atime(): Date {
    return (this.#dates[0] ??= new Date(Math.round(this.atimeMs)));
  }
  get mtime(): Date {
    return (this.#dates[1] ??= new Date(Math.round(this.mtimeMs)));
  }
  get ctime(): Date {
    return (this.#dates[2] ??= new Date(Math.round(this.ctimeMs)));
  }
  get birthtime(): Date {
    return (this.#dates[3] ??= new Date(Math.round(this.birthtimeMs)));
  }
  #is(type: number): boolean {
    return (this.mode & constants.S_IFMT) === type;
  }
  isFile(): boolean {
    return this.#is(constants.S_IFREG);
  }
  isDirectory(): boolean {
    return this.#is(constants.S_IFDIR);
  }
  isSymbolicLink(): boolean {
    return this.#is(constants.S_IFLNK);
  }
  isFIFO(): boolean {
    return this.#is(constants.S_IFIFO);
  }
  isCharacterDevice(): boolean {
    return this.#is(constants.S_IFCHR);
  }
  isBlockDevice(): boolean {
    return this.#is(constants.S_IFBLK);
  }
  isSocket(): boolean {
    return this.#is(constants.S_IFSOCK);
  }
}

/** What a Stats is compared on when the binding proves itself: every field, and the Dates. */
const FIELDS = ['dev', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'blksize', 'ino', 'size', 'blocks', 'atimeMs', 'mtimeMs', 'ctimeMs', 'birthtimeMs'] as const;
const DATES = ['atime', 'mtime', 'ctime', 'birthtime'] as const;

let chosen: { via: 'binding' | 'fs'; raw?: RawLstat } | undefined;

/** Which lstat this process uses for its walks (undefined before the first walk asked). */
export function fastLstatSource(): 'binding' | 'fs' | undefined {
  return chosen?.via;
}

/** The lstat for the up-to-date check's walk of `root` (an existing path). */
export function listingLstat(root: string): ListingLstat {
  const raw = (chosen ??= probe(root)).raw;
  if (!raw) return (p) => lstatSync(p, { throwIfNoEntry: false });
  const out: ListingStat = { mode: 0, uid: 0, gid: 0, size: 0, mtimeMs: 0, ctimeMs: 0, ino: 0 };
  return (p) => {
    // A path with a NUL byte is refused by fs.lstatSync; the binding would cut it short.
    if (p.includes('\0')) return undefined;
    const a = raw(p, false, undefined, false);
    if (a === undefined) return undefined;
    out.mode = a[1]!;
    out.uid = a[3]!;
    out.gid = a[4]!;
    out.ino = a[7]!;
    out.size = a[8]!;
    out.mtimeMs = ms(a, 12);
    out.ctimeMs = ms(a, 14);
    return out;
  };
}

/** The lstat for the context hasher's walk of `root` (an existing path). */
export function statsLstat(root: string): StatsLstat {
  const raw = (chosen ??= probe(root)).raw;
  if (!raw) return (p) => lstatSync(p);
  return (p) => {
    const a = p.includes('\0') ? undefined : raw(p, false, undefined, false);
    // Absent (or an odd path): fs.lstatSync gives the error, or the entry if it has just appeared.
    return a === undefined ? lstatSync(p) : new BindingStats(a);
  };
}

function probe(root: string): { via: 'binding' | 'fs'; raw?: RawLstat } {
  const slow = { via: 'fs' } as const;
  // Under --pending-deprecation, process.binding warns: the user would see our shortcut's warning.
  if ([...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--pending-deprecation'))) return slow;
  try {
    const raw = (process as unknown as { binding(name: string): { lstat?: unknown } }).binding('fs').lstat;
    if (typeof raw !== 'function') return slow;
    const lstat = raw as RawLstat;
    const want = lstatSync(root);
    const a = lstat(root, false, undefined, false);
    if (!(a instanceof Float64Array)) return slow;
    const got = new BindingStats(a);
    if (!FIELDS.every((k) => got[k] === want[k]) || !DATES.every((k) => got[k].getTime() === want[k].getTime())) return slow;
    // And a missing entry must read as undefined, not throw.
    const missing = `${root}/.tsbuild-no-such-entry-${process.pid}`;
    if (lstatSync(missing, { throwIfNoEntry: false }) !== undefined || lstat(missing, false, undefined, false) !== undefined) return slow;
    return { via: 'binding', raw: lstat };
  } catch {
    return slow;
  }
}
