/**
 * Executes a FileOp's actions (COPY/ADD, WORKDIR mkdir, heredoc mkfile, rm) on a destination
 * root directory, with BuildKit's file-backend semantics. Checked against Docker 26/BuildKit 0.13:
 * - missing destination parents are created 0755, owned by the --chown user (root without one,
 *   with the group of a set-group-ID parent, which also passes its set-group-ID bit on), with the
 *   current time as mtime;
 * - a directory source copies its contents; a newly created top directory is 0755 and owned like
 *   a parent, but takes the source directory's mtime; nested entries keep mode and mtime;
 * - a file onto an existing directory (or a dest ending in "/") lands inside it under its name;
 * - the source argument itself is followed when it is a symlink (within the input root);
 * - a wildcard matching several files onto a non-directory dest overwrites it (last wins);
 * - WORKDIR creates every missing component owned by the current USER.
 * `--link` is applied exactly like a plain copy. BuildKit builds a --link layer on scratch and
 * merges it, but Docker 26 was checked to give the same final tree as a plain COPY, destination
 * symlinks included (a file dest that is a symlink is written through, a symlinked dir dest is
 * followed, existing parent dirs keep their metadata). Only cache reuse differs, and that is the
 * solver's business (the op identity), not this executor's.
 */
import type { Stats } from 'node:fs';
import { lstat, rm, stat, writeFile, chmod, chown, utimes } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import type { Chown, CopyAction, Digest, FileOp, MkdirAction, MkfileAction, RmAction } from '../graph/index.js';
import { createIgnoreMatcher } from '../context/index.js';
import { resolveUser } from '../util/passwd.js';
import { parseChmod } from './chmod.js';
import { applyXattrs, copyEntry, mkdirAllOwned, type CopyReuseHooks, type CopyRun, type Owner } from './copy-tree.js';
import { expandWildcards, hasWildcard, unescapeGo } from './match.js';
import { climbsAbove, cleanRooted, resolveInRoot } from './paths.js';
import { extractArchive, isArchive } from './archive.js';
import { readXattrs, readXattrsOf } from './xattr.js';

/** Where a FileOp reads and writes. */
export interface FileOpEnv {
  /** The writable destination root (overlay merged dir or plain dir). */
  rootDir: string;
  /** Host directory holding the filesystem of input vertex `d`. */
  inputDir(d: Digest): string;
  /** Whether input `d` is a local context (its ownership is reset to 0:0, as BuildKit does). */
  contextIsLocal?(d: Digest): boolean;
  /**
   * For an input read in place (the context directory itself): the input-relative paths the
   * copy may see; anything else is skipped as if absent. Undefined: every entry is visible.
   */
  inputVisible?(d: Digest): ReadonlySet<string> | undefined;
  /** For an input read in place: the lstat its walk made of an input-relative path, if any. */
  inputStat?(d: Digest): ((rel: string) => Stats | undefined) | undefined;
  /**
   * For an input whose files are immutable inodes (another stage's layer dirs): the host path of
   * the inode a regular file shows, which a copy keeping all its metadata may hard-link.
   */
  inputLinkable?(d: Digest): ((src: string, st: Stats) => string | undefined) | undefined;
  /** For copies from a local context: files an earlier identical copy made (solver/ops/copy-reuse.ts). */
  reuse?: CopyReuseHooks;
}

/** What a FileOp read, for progress and build records. */
export interface FileOpStats {
  bytesRead: number;
  filesRead: number;
}

/** Applies every action of `op`, in order, to `env.rootDir`. */
export async function applyFileOp(ctx: BuildContext, op: FileOp, env: FileOpEnv): Promise<FileOpStats> {
  const stats: FileOpStats = { bytesRead: 0, filesRead: 0 };
  try {
    await applyActions(ctx, op, env, stats);
  } catch (e) {
    if (e instanceof TsbuildError) throw e;
    const errno = e as NodeJS.ErrnoException;
    throw new TsbuildError('ERR_TSBUILD_FILEOP_IO', `${errno.code ?? 'error'}: ${errno.message}`, { cause: e });
  }
  return stats;
}

async function applyActions(ctx: BuildContext, op: FileOp, env: FileOpEnv, stats: FileOpStats): Promise<void> {
  for (const action of op.actions) {
    if (ctx.signal.aborted) throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'file operation cancelled');
    switch (action.action) {
      case 'copy':
        await applyCopy(ctx, action, env, stats);
        break;
      case 'mkdir':
        await applyMkdir(action, op.user, env.rootDir);
        break;
      case 'mkfile':
        await applyMkfile(action, env.rootDir);
        break;
      case 'rm':
        await applyRm(action, env.rootDir);
        break;
    }
  }
}

/**
 * Resolves --chown (and the WORKDIR user) like BuildKit's file backend: a numeric user needs no
 * passwd entry and its gid defaults to the same number (not to the passwd gid, unlike RUN); a
 * named user takes uid and primary gid from the destination root's /etc/passwd; a group is a
 * number or a name from its /etc/group.
 */
export async function resolveOwner(rootDir: string, c: Chown | undefined): Promise<Owner | undefined> {
  const parts = chownParts(c);
  if (!parts) return undefined;
  const { user: userPart, group } = parts;
  try {
    let uid: number;
    let gid: number;
    if (/^\d+$/.test(userPart)) uid = gid = Number(userPart);
    else ({ uid, gid } = await resolveUser(rootDir, userPart));
    if (group !== undefined && group !== '') {
      gid = /^\d+$/.test(group) ? Number(group) : (await resolveUser(rootDir, `0:${group}`)).gid;
    }
    return { uid, gid };
  } catch (e) {
    throw new TsbuildError('ERR_TSBUILD_COPY_USER', `unable to resolve user ${c!.user || '0'}${group ? ':' + group : ''}: ${(e as Error).message}`, { cause: e });
  }
}

/** User and group of a --chown as written; undefined when it sets neither. */
function chownParts(c: Chown | undefined): { user: string; group: string | undefined } | undefined {
  if (!c || (c.user === '' && !c.group)) return undefined;
  // `--chown=:GROUP`: root's uid with that group (BuildKit, Docker 26 lab: 0:1000).
  const written = c.user === '' ? '0' : c.user;
  const [user, groupFromUser] = written.includes(':') ? [written.slice(0, written.indexOf(':')), written.slice(written.indexOf(':') + 1)] : [written, undefined];
  return { user, group: c.group !== undefined && c.group !== '' ? c.group : groupFromUser };
}

/** Whether resolving a --chown reads the destination's /etc/passwd or /etc/group (a name in it). */
export function chownNeedsNames(c: Chown | undefined): boolean {
  const parts = chownParts(c);
  return parts !== undefined && (!/^\d+$/.test(parts.user) || (parts.group !== undefined && parts.group !== '' && !/^\d+$/.test(parts.group)));
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/** Splits a --parents source at its `/./` pivot: [root part, kept part]. */
function splitPivot(src: string): [string, string] {
  const s = src;
  const i = s.indexOf('/./');
  if (i < 0) return ['', s.replace(/^\.\//, '')];
  return [s.slice(0, i), s.slice(i + 3)];
}

async function applyCopy(ctx: BuildContext, a: CopyAction, env: FileOpEnv, stats: FileOpStats): Promise<void> {
  const inputRoot = env.inputDir(a.from);
  const root = env.rootDir;
  const owner = await resolveOwner(root, a.chown);
  const destIsDir = a.dest.endsWith('/') || a.dest.endsWith('/.') || a.dest === '.' || a.dest === '';
  const dest = cleanRooted(a.dest);
  if (a.src.length > 1 && !destIsDir) {
    throw new TsbuildError('ERR_TSBUILD_COPY_DEST', `copying ${a.src.length} sources needs a directory destination ending in "/", got ${a.dest}`);
  }
  const exclude = a.exclude.length > 0 ? createIgnoreMatcher(a.exclude) : undefined;
  const run: CopyRun = {
    owner,
    resetOwner: env.contextIsLocal?.(a.from) ?? false,
    mode: parseChmod(a.chmod),
    excluded: exclude ? (rel) => exclude.matches(rel) : undefined,
    inodes: new Map(),
    reuse: env.contextIsLocal?.(a.from) ? env.reuse : undefined,
    // Only a copy that changes nothing of a file may share its inode.
    linkable: !owner && !a.chmod && !env.contextIsLocal?.(a.from) ? env.inputLinkable?.(a.from) : undefined,
    bytesRead: 0,
    filesRead: 0,
    signal: ctx.signal,
  };
  const visible = env.inputVisible?.(a.from);

  // Destination parents: the dest itself when it names a directory, else its parent. Made on the
  // first source that matched: like BuildKit (one copy per source), wildcards that all match
  // nothing under allowEmptyWildcard leave the destination untouched, not even created.
  let destReady: string | undefined;
  const prepareDest = async (): Promise<string> => {
    if (destReady !== undefined) return destReady;
    const ensure = destIsDir ? dest : path.posix.dirname(dest);
    await mkdirAllOwned(await resolveInRoot(root, ensure, { followLast: true }), 0o755, owner, root);
    destReady = dest === '/' ? root : await resolveInRoot(root, dest, { followLast: true });
    return destReady;
  };

  for (const rawSrc of a.src) {
    if (climbsAbove(rawSrc)) throw new TsbuildError('ERR_TSBUILD_COPY_OUTSIDE_CONTEXT', `source ${rawSrc} is outside the build context`);
    if (a.parents) {
      await copyWithParents(a, run, inputRoot, rawSrc, await prepareDest(), root);
      continue;
    }
    const wild = a.allowWildcard && hasWildcard(rawSrc);
    let matches: string[];
    if (wild) {
      matches = [];
      for (const m of await expandWildcards(inputRoot, rawSrc)) {
        if (await exists(await resolveInRoot(inputRoot, m, { followLast: false, escapeError: 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT' }))) matches.push(m);
      }
      if (matches.length === 0) {
        if (a.allowEmptyWildcard) continue;
        throw new TsbuildError('ERR_TSBUILD_COPY_SOURCE', `no source files were specified: ${rawSrc} matched nothing`);
      }
    } else matches = [a.allowWildcard ? unescapeGo(rawSrc) : rawSrc];

    for (const m of matches) {
      const destHost = await prepareDest();
      const srcHost = await resolveInRoot(inputRoot, m, { followLast: true, escapeError: 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT' });
      const srcRel = path.relative(inputRoot, srcHost);
      const srcSt = visible && srcRel !== '' && !visible.has(srcRel) ? undefined : await lstat(srcHost).catch(() => undefined);
      if (!srcSt) throw new TsbuildError('ERR_TSBUILD_COPY_SOURCE', `${m}: not found`);
      if (visible) run.visible = (rel) => visible.has(srcRel === '' ? rel : `${srcRel}/${rel}`);
      const known = env.inputStat?.(a.from);
      if (known) run.knownStat = (rel) => known(srcRel === '' ? rel : `${srcRel}/${rel}`);
      const base = path.posix.basename(cleanRooted(m));
      if (a.unpack && srcSt.isFile() && (await isArchive(srcHost))) {
        // ADD extracts into the destination as a directory.
        await mkdirAllOwned(destHost, 0o755, owner, root);
        const r = await extractArchive(srcHost, destHost, ctx.signal);
        run.bytesRead += srcSt.size;
        run.filesRead++;
        void r;
        continue;
      }
      if (exclude && !srcSt.isDirectory() && exclude.matches(base)) continue;
      const destSt = await stat(destHost).catch(() => undefined);
      let target = destHost;
      if (!srcSt.isDirectory() && destSt?.isDirectory()) target = path.join(destHost, base);
      if (srcSt.isDirectory() && !destSt) await mkdirAllOwned(target, 0o755, owner, root);
      // Read while the files are copied; applied after them (copy-tree.ts applyXattrs).
      if (visible) {
        // A file the previous identical copy made is linked with its xattrs: read only the others
        // (a one-file edit of a 2,000-file COPY: ~45 paths instead of 2,000, ~3 ms against ~15).
        const reuse = run.reuse;
        // The host paths copyEntry will give these sources: joined as it joins them (path.join
        // per entry was ~5% of a 2,000-file COPY's time on an edit).
        const rootDir = path.normalize(inputRoot);
        const prefix = rootDir.endsWith('/') ? rootDir : `${rootDir}/`;
        const paths = visibleUnder(visible, srcRel).flatMap((rel) => {
          const p = rel === '' ? rootDir : prefix + rel;
          return reuse && known && reuse.wouldReuse(p, known(rel)) ? [] : [p];
        });
        const read = new Set(paths);
        run.xattrs = readXattrsOf(paths);
        run.xattrsCover = (src) => read.has(src);
      } else run.xattrs = readXattrs(srcHost);
      run.xattrs.catch(() => {});
      // Hard links are kept within one source (match), never across two: BuildKit copies each
      // separately, so `COPY a b /d/` of two linked files gives two files.
      run.inodes = new Map();
      await copyEntry(run, srcHost, target, '', true);
      await applyXattrs(run);
      // The context root read in place: BuildKit's copy takes the time of its synced context
      // root, a directory made at build time, not the user's directory's mtime.
      if (visible && srcRel === '' && srcSt.isDirectory()) {
        const now = new Date();
        await utimes(target, now, now);
      }
    }
  }
  stats.bytesRead += run.bytesRead;
  stats.filesRead += run.filesRead;
}

/** The visible input paths at or below `rel` ('' is the input root). */
function visibleUnder(visible: ReadonlySet<string>, rel: string): string[] {
  if (rel === '') return ['', ...visible];
  return [...visible].filter((p) => p === rel || p.startsWith(`${rel}/`));
}

/**
 * --parents: the part of the source before `/./` (or the input root) is dropped and the rest
 * keeps its directory chain under the destination; the chain's directories are copied from the
 * source with their own metadata, like BuildKit's include-pattern copy.
 */
async function copyWithParents(a: CopyAction, run: CopyRun, inputRoot: string, rawSrc: string, destHost: string, root: string): Promise<void> {
  const [pivot, kept] = splitPivot(rawSrc);
  const pivotHost = await resolveInRoot(inputRoot, pivot, { followLast: true, escapeError: 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT' });
  const matches = a.allowWildcard && hasWildcard(kept) ? await expandWildcards(pivotHost, kept) : [unescapeGo(kept)];
  const found: string[] = [];
  for (const m of matches) if (await exists(path.join(pivotHost, m))) found.push(m);
  if (found.length === 0) {
    // BuildKit turns every --parents source into an include pattern, so with empty wildcards
    // allowed even a missing plain path copies nothing (moby/buildkit#4900).
    if (a.allowEmptyWildcard) return;
    throw new TsbuildError('ERR_TSBUILD_COPY_SOURCE', `${rawSrc}: not found`);
  }
  await mkdirAllOwned(destHost, 0o755, run.owner, root);
  for (const m of found) {
    const parts = path.posix.normalize(m).split('/').filter((p) => p !== '' && p !== '.');
    let srcCur = pivotHost;
    let dstCur = destHost;
    for (const p of parts.slice(0, -1)) {
      srcCur = path.join(srcCur, p);
      dstCur = path.join(dstCur, p);
      if (!(await exists(dstCur))) {
        const st = await lstat(srcCur);
        await (await import('node:fs/promises')).mkdir(dstCur);
        const o = run.owner ?? (run.resetOwner ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
        await chown(dstCur, o.uid, o.gid);
        await chmod(dstCur, run.mode ? run.mode(st.mode & 0o7777, true) : st.mode & 0o7777);
        await utimes(dstCur, st.atime, st.mtime);
      }
    }
    const leaf = parts[parts.length - 1]!;
    run.xattrs = readXattrs(path.join(srcCur, leaf));
    run.xattrs.catch(() => {});
    await copyEntry(run, path.join(srcCur, leaf), path.join(dstCur, leaf), '', false);
    await applyXattrs(run);
  }
}

async function applyMkdir(a: MkdirAction, user: string, root: string): Promise<void> {
  const owner = await resolveOwner(root, a.chown ?? (user ? { user } : undefined));
  const host = await resolveInRoot(root, cleanRooted(a.path), { followLast: true });
  if (a.parents) {
    await mkdirAllOwned(host, a.mode & 0o7777, owner, root);
    return;
  }
  if (await exists(host)) {
    if ((await stat(host)).isDirectory()) return;
    throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `${a.path} exists and is not a directory`);
  }
  // Without parents, a missing parent is an error, as with BuildKit's plain mkdir.
  if (!(await exists(path.dirname(host)))) throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `parent of ${a.path} does not exist`);
  await mkdirAllOwned(host, a.mode & 0o7777, owner, path.dirname(host));
}

async function applyMkfile(a: MkfileAction, root: string): Promise<void> {
  const owner = await resolveOwner(root, a.chown);
  const host = await resolveInRoot(root, cleanRooted(a.path), { followLast: false });
  const st = await lstat(host).catch(() => undefined);
  if (st?.isDirectory()) throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `${a.path} is a directory`);
  if (st) await rm(host);
  if (!(await exists(path.dirname(host)))) throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', `parent of ${a.path} does not exist`);
  await writeFile(host, a.data, { mode: 0o600 });
  await chown(host, owner?.uid ?? 0, owner?.gid ?? 0);
  await chmod(host, a.mode & 0o7777);
}

async function applyRm(a: RmAction, root: string): Promise<void> {
  const clean = cleanRooted(a.path);
  if (clean === '/') throw new TsbuildError('ERR_TSBUILD_COPY_CONFLICT', 'refusing to remove the root');
  const host = await resolveInRoot(root, clean, { followLast: false });
  if (!(await exists(host))) {
    if (a.allowNotFound) return;
    throw new TsbuildError('ERR_TSBUILD_COPY_SOURCE', `${a.path}: not found`);
  }
  await rm(host, { recursive: true, force: true });
}
