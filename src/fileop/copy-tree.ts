/**
 * The copy engine behind COPY/ADD, following BuildKit's fsutil copier: regular files, symlinks
 * (copied as links, never followed), hardlinks kept as hardlinks within one copy, directories
 * merged into existing ones. Copied entries keep their source mtime; ownership is the --chown
 * user, else the source's (reset to 0:0 for the local context, as BuildKit's file transfer does).
 */
import { chown, copyFile, lchown, lstat, lutimes, mkdir, readdir, readlink, rm, symlink, link, chmod, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../errors/index.js';
import type { ModeFn } from './chmod.js';
import { writeXattrs, type XattrMap } from './xattr.js';

/** Owner applied to copied entries. */
export interface Owner {
  uid: number;
  gid: number;
}

/** Per-action copy settings and counters. */
export interface CopyRun {
  /** --chown result; undefined keeps (or resets, see resetOwner) source ownership. */
  owner?: Owner;
  /** Source is the local context: ownership becomes 0:0 when no --chown is given. */
  resetOwner: boolean;
  mode?: ModeFn;
  /** Excludes a path relative to the copy source ("" for the source itself). */
  excluded?: (rel: string) => boolean;
  /** Hardlink tracking: source inode -> first destination path (once copied). */
  inodes: Map<string, Promise<string>>;
  /** Bounds concurrent filesystem work. */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Extended attributes of the sources, keyed by host path (see xattr.ts). */
  xattrs?: XattrMap;
  bytesRead: number;
  filesRead: number;
  signal: AbortSignal;
}

/**
 * Creates missing directories of `dir` (a host path under the root) with mode 0755, the given
 * owner (root when none) and mtime now — BuildKit's MkdirAll for destination parents and WORKDIR.
 */
export async function mkdirAllOwned(dir: string, mode: number, owner: Owner | undefined, stopAt: string): Promise<void> {
  const missing: string[] = [];
  let cur = dir;
  while (cur.length >= stopAt.length) {
    try {
      const st = await lstat(cur);
      if (!st.isDirectory()) throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `${cur.slice(stopAt.length) || '/'} exists and is not a directory`);
      break;
    } catch (e) {
      if (e instanceof TsbuildError) throw e;
      missing.unshift(cur);
      if (cur === stopAt) break;
      cur = path.dirname(cur);
    }
  }
  for (const d of missing) {
    await mkdir(d);
    await chmod(d, mode);
    await chown(d, owner?.uid ?? 0, owner?.gid ?? 0);
  }
}

function ownerFor(run: CopyRun, st: Stats): Owner {
  if (run.owner) return run.owner;
  if (run.resetOwner) return { uid: 0, gid: 0 };
  return { uid: st.uid, gid: st.gid };
}

/**
 * Owner, mode and times of a copied entry. `modeKept`: the target already has the source's
 * permission bits (copyFile fchmods the file it creates), so only a --chmod, or set-id bits that
 * chown clears, need another chmod: 2,000 fewer calls for a 2,000-file COPY.
 */
async function applyMeta(run: CopyRun, st: Stats, target: string, modeKept = false): Promise<void> {
  const o = ownerFor(run, st);
  if (st.isSymbolicLink()) {
    await lchown(target, o.uid, o.gid);
    await lutimes(target, st.atime, st.mtime);
    return;
  }
  await chown(target, o.uid, o.gid);
  const perm = st.mode & 0o7777;
  // chmod after chown: chown clears set-id bits.
  if (run.mode || !modeKept || (perm & 0o6000) !== 0) await chmod(target, run.mode ? run.mode(perm, st.isDirectory()) : perm);
  await utimes(target, st.atime, st.mtime);
}

/** Makes room for a non-directory at target: an existing dir is an error, anything else goes. */
async function clearForFile(target: string): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(target);
  } catch {
    return;
  }
  if (st.isDirectory()) throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `cannot replace directory ${target} with a file`);
  await rm(target, { force: true });
}

/**
 * Copies `src` (already resolved, host path) to `target`. `rel` is the path relative to the copy
 * source used for --exclude. `isTop` marks the source itself: a top directory merges into the
 * target without taking its mode or owner (BuildKit creates it as a plain 0755 parent).
 * `fresh` says the target's parent was just created, so nothing can be in the way.
 * Entries of a directory are copied concurrently (bounded by run.limit): on small-file trees
 * the cost is syscall latency, not bandwidth.
 */
export async function copyEntry(run: CopyRun, src: string, target: string, rel: string, isTop: boolean, fresh = false): Promise<void> {
  if (run.signal.aborted) throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'copy cancelled');
  if (rel !== '' && run.excluded?.(rel)) return;
  const st = await run.limit(() => lstat(src));
  if (st.isDirectory()) {
    let created = false;
    if (fresh) {
      await mkdir(target);
      created = true;
    } else {
      try {
        const t = await lstat(target);
        if (!t.isDirectory()) throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `cannot copy directory onto non-directory ${target}`);
      } catch (e) {
        if (e instanceof TsbuildError) throw e;
        await mkdir(target);
        created = true;
      }
    }
    const names = (await readdir(src)).sort();
    const results = await Promise.allSettled(
      names.map((name) => copyEntry(run, path.join(src, name), path.join(target, name), rel === '' ? name : `${rel}/${name}`, false, created)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (created && !isTop) {
      await applyMeta(run, st, target);
      await copyXattrs(run, src, target);
    } else if (isTop) await utimes(target, st.atime, st.mtime);
    return;
  }
  // Hardlinked sources: the first copy is made, later names link to it.
  const key = `${st.dev}:${st.ino}`;
  if (st.isFile() && st.nlink > 1) {
    const first = run.inodes.get(key);
    if (first) {
      const firstTarget = await first;
      await run.limit(async () => {
        if (!fresh) await clearForFile(target);
        await link(firstTarget, target);
      });
      return;
    }
    let settle!: { ok: (t: string) => void; fail: (e: unknown) => void };
    const p = new Promise<string>((ok, fail) => (settle = { ok, fail }));
    p.catch(() => undefined);
    run.inodes.set(key, p);
    try {
      await run.limit(() => copyLeaf(run, st, src, target, fresh));
      settle.ok(target);
    } catch (e) {
      settle.fail(e);
      throw e;
    }
    return;
  }
  await run.limit(() => copyLeaf(run, st, src, target, fresh));
}

async function copyLeaf(run: CopyRun, st: Stats, src: string, target: string, fresh: boolean): Promise<void> {
  if (!fresh) await clearForFile(target);
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), target);
  } else if (st.isFile()) {
    await copyFile(src, target);
    run.bytesRead += st.size;
    run.filesRead++;
  } else {
    // Devices, fifos and sockets: BuildKit recreates them with mknod; node has no mknod.
    await mknodLike(src, target, st);
  }
  await applyMeta(run, st, target, st.isFile());
  await copyXattrs(run, src, target);
}

async function copyXattrs(run: CopyRun, src: string, target: string): Promise<void> {
  const attrs = run.xattrs?.get(src);
  if (attrs) await writeXattrs(target, attrs);
}

async function mknodLike(src: string, target: string, st: Stats): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  if (st.isFIFO()) await run('mkfifo', [target]);
  else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const major = Math.floor(st.rdev / 256) & 0xfff;
    const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
    await run('mknod', [target, st.isCharacterDevice() ? 'c' : 'b', String(major), String(minor)]);
  } else throw new TsbuildError('ERR_TSBUILD_COPY_SOURCE', `cannot copy socket ${src}`);
}
