/**
 * Path resolution inside a root directory. Every path a file op touches is resolved component
 * by component, following symlinks as if `root` were `/` (an absolute link target restarts at
 * the root, `..` never climbs above it). This mirrors BuildKit's scoped lookups and is what keeps
 * a hostile symlink in an image from redirecting a COPY onto the host.
 */
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors/index.js';

const MAX_LINKS = 255;

/** Normalizes a path given inside a root to a clean absolute posix path ("/a/b"). */
export function cleanRooted(p: string): string {
  return path.posix.normalize('/' + p).replace(/\/+$/, '') || '/';
}

/** Whether a path, joined onto `/`, climbs above it with `..` before it is cleaned. */
export function climbsAbove(p: string): boolean {
  let depth = 0;
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      depth--;
      if (depth < 0) return true;
    } else depth++;
  }
  return false;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component too (sources: yes; destinations: no). */
  followLast: boolean;
  /**
   * When set, a `..` or symlink that would leave the root is an error with this code instead of
   * being clamped at the root. Sources use this: BuildKit's context never holds such paths.
   */
  escapeError?: 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT' | 'ERR_TSBUILD_ADD_ARCHIVE_UNSAFE';
}

/**
 * Resolves `p` (interpreted inside `root`) to a host path under `root`. Components that do not
 * exist are kept as they are; symlinks are followed within the root.
 */
export async function resolveInRoot(root: string, p: string, opts: ResolveOptions): Promise<string> {
  const pending = p.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      if (done.length === 0) {
        if (opts.escapeError) throw new TsbuildError(opts.escapeError, `path ${JSON.stringify(p)} resolves outside its root`);
        continue;
      }
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    const isLast = pending.length === 0;
    let st;
    try {
      st = await lstat(host);
    } catch {
      done.push(part);
      continue;
    }
    if (st.isSymbolicLink() && (!isLast || opts.followLast)) {
      if (++links > MAX_LINKS) throw new TsbuildError(opts.escapeError ?? 'ERR_TSBUILD_COPY_SOURCE', `too many symlinks resolving ${p}`);
      const target = await readlink(host);
      const rest = target.split('/').filter((c) => c !== '' && c !== '.');
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...rest);
      continue;
    }
    done.push(part);
  }
  return done.length === 0 ? root : path.join(root, ...done);
}

/** The root-relative form ("a/b") of a host path under root. */
export function relToRoot(root: string, host: string): string {
  return path.relative(root, host).split(path.sep).join('/');
}
