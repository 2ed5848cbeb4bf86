/**
 * Advisory cross-process locks under <root>/locks/<name>.lock.
 *
 * Why lock files and not flock(2): Node has no flock binding, and holding flock through a
 * child process costs a spawn per lock and leaks if the child outlives us. Creating the lock
 * file with link(2) is atomic on every local filesystem; the file records the holder's pid and its start time (field
 * 22 of /proc/<pid>/stat), so a lock left by a SIGKILLed process is detected as stale even when
 * the pid has been reused. A stale lock is taken over by renaming it aside first: rename is
 * atomic, so of two waiters only one moves it, and the loser simply retries the create.
 */
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors/index.js';

/** Releases a held lock; calling it twice is harmless. */
export type ReleaseLock = () => Promise<void>;

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function holderAlive(content: string): boolean {
  const [pidText, started] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false; // not a holder record we wrote: nothing holds it
  const now = startTime(pid);
  return now !== undefined && (started === undefined || started === now);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes the named lock, waiting up to `timeoutMs` (default 10 min) for another holder. */
export async function acquireLock(root: string, name: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ReleaseLock> {
  if (!/^[\w.-]+$/.test(name)) throw new TsbuildError('ERR_TSBUILD_STORE_LOCKED', `bad lock name "${name}"`);
  const dir = path.join(root, 'locks');
  const file = path.join(dir, `${name}.lock`);
  await mkdir(dir, { recursive: true });
  const me = `${process.pid} ${startTime(process.pid) ?? ''}\n`;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let delay = 2;
  for (;;) {
    options.signal?.throwIfAborted();
    // The holder record is written to a private file first and then hard-linked into place:
    // link(2) fails with EEXIST like O_EXCL does, but the lock file is never visible empty or
    // half-written, so a waiter can never mistake a fresh holder for a dead one.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, me, { mode: 0o600 });
    let won = false;
    try {
      await link(tmp, file);
      won = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    if (won) {
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        // Only remove the file if it is still ours (a wrongly-detected takeover must not free another's lock).
        if ((await readFile(file, 'utf8').catch(() => '')) === me) await unlink(file).catch(() => {});
      };
    }
    const content = await readFile(file, 'utf8').catch(() => undefined);
    if (content !== undefined && !holderAlive(content)) {
      const aside = `${file}.stale.${process.pid}.${Date.now()}`;
      if (await rename(file, aside).then(() => true, () => false)) {
        // Between our read and our rename a new holder may have taken the lock: put it back.
        const moved = await readFile(aside, 'utf8').catch(() => '');
        if (moved !== content && holderAlive(moved)) await link(aside, file).catch(() => {});
        await rm(aside, { force: true });
      }
      continue;
    }
    if (Date.now() > deadline) throw new TsbuildError('ERR_TSBUILD_STORE_LOCKED', `timed out waiting for lock "${name}" in ${root}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
