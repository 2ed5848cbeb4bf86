/**
 * A filtered view of the build context: the entries a COPY reads, minus what .dockerignore
 * excludes, as a tree of hard links (copies when the temp dir is on another filesystem).
 * File ops then read an ordinary directory and can never see an ignored file.
 *
 * Synchronous on purpose: thousands of tiny metadata calls, each cheaper than an event-loop
 * round trip through the thread pool.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, constants, copyFileSync, lchownSync, linkSync, lutimesSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { ContextEntry } from './checksum.js';

export interface MaterializeOptions {
  /**
   * Private copies owned by 0:0 instead of hard links, for a view a RUN step sees directly
   * (a bind mount): the client-side context transfer of docker/buildx resets owners to root, and
   * a writable mount must never reach the user's files through a shared inode.
   */
  copy?: boolean;
}

export async function materializeEntries(contextDir: string, entries: ContextEntry[], dest: string, options: MaterializeOptions = {}): Promise<void> {
  mkdirSync(dest, { recursive: true });
  // mkdtemp made it 0700; a context root is an ordinary directory.
  if (options.copy) chmodSync(dest, 0o755);
  const uid = (e: ContextEntry) => (options.copy ? 0 : e.uid);
  const gid = (e: ContextEntry) => (options.copy ? 0 : e.gid);
  const made = new Set<string>([dest]);
  const ensureDir = (d: string): void => {
    if (made.has(d)) return;
    mkdirSync(d, { recursive: true });
    made.add(d);
  };
  // Directories and symlinks are made anew here, copied files too: they take the context's mtimes
  // (as BuildKit's context transfer keeps them), set at the end since adding children changes a
  // directory's mtime. Hard-linked files share the source inode and its time already.
  const timed: Array<[string, ContextEntry]> = [];
  for (const e of entries) {
    const to = path.join(dest, e.path);
    if (e.type === 'dir' || e.type === 'symlink' || e.fifo || (e.type === 'file' && options.copy)) timed.push([to, e]);
    ensureDir(path.dirname(to));
    if (e.type === 'dir') {
      ensureDir(to);
      chmodSync(to, e.mode);
      lchownSync(to, uid(e), gid(e));
    } else if (e.type === 'symlink') {
      symlinkSync(e.linkTarget ?? '', to);
      if (options.copy) lchownSync(to, 0, 0);
    } else if (e.fifo) {
      // A named pipe is recreated (node has no mkfifo; they are rare in a context).
      execFileSync('mkfifo', ['-m', (e.mode & 0o7777).toString(8), to]);
      lchownSync(to, uid(e), gid(e));
    } else if (e.type === 'file') {
      const from = path.join(contextDir, e.path);
      if (options.copy) {
        copyFileSync(from, to, constants.COPYFILE_FICLONE);
        chmodSync(to, e.mode & 0o7777);
        lchownSync(to, 0, 0);
        continue;
      }
      try {
        linkSync(from, to);
      } catch {
        copyFileSync(from, to);
        timed.push([to, e]);
      }
    }
  }
  for (const [to, e] of timed) {
    if (e.mtimeMs === undefined) continue;
    const t = e.mtimeMs / 1000;
    lutimesSync(to, t, t);
  }
}
