/**
 * When COPY may read the context in place: only when that sees exactly what the filtered view
 * would (no wildcard, no symlink on a source's way, no socket); what .dockerignore excludes is
 * never in the returned selection.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContextHasher } from '../../src/context/checksum.js';
import { directReadSelection } from '../../src/context/direct-read.js';
import { createIgnoreMatcher } from '../../src/context/dockerignore.js';

async function context(t: import('ava').ExecutionContext, ignore: string[]) {
  const ctx = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-direct-'));
  t.teardown(() => rm(ctx, { recursive: true, force: true }));
  await mkdir(path.join(ctx, 'app/sub'), { recursive: true });
  await mkdir(path.join(ctx, 'node_modules/dep'), { recursive: true });
  await writeFile(path.join(ctx, 'app/a.txt'), 'a');
  await writeFile(path.join(ctx, 'app/sub/b.txt'), 'b');
  await writeFile(path.join(ctx, 'app/debug.log'), 'log');
  await writeFile(path.join(ctx, 'node_modules/dep/index.js'), 'x');
  await symlink('app', path.join(ctx, 'app-link'));
  execFileSync('mkfifo', [path.join(ctx, 'pipe')]);
  const matcher = createIgnoreMatcher(ignore);
  const hasher = createContextHasher({ contextDir: ctx, exclude: (r, d) => matcher.excludes(r, d), canSkipDir: (r) => matcher.canSkipDir(r) });
  return hasher.entries();
}

test('in place: plain directory and file sources; ignored entries are not in the selection', async (t) => {
  const all = await context(t, ['node_modules', '**/*.log']);
  t.deepEqual([...directReadSelection(all, ['app'])!].sort(), ['app', 'app/a.txt', 'app/sub', 'app/sub/b.txt']);
  // The parents come along, as in the view's tree.
  t.deepEqual([...directReadSelection(all, ['./app/sub/b.txt', 'app/a.txt'])!].sort(), ['app', 'app/a.txt', 'app/sub', 'app/sub/b.txt']);
  const root = directReadSelection(all, ['.'])!;
  t.false([...root].some((p) => p.startsWith('node_modules') || p.endsWith('.log')));
  t.true(root.has('app-link'), 'a symlink below a source is copied as a link');
  // A fifo is recreated by both ways of reading.
  t.deepEqual([...directReadSelection(all, ['pipe'])!], ['pipe']);
});

test('through a view: wildcards, symlinks on the way, missing or ignored sources', async (t) => {
  const all = await context(t, ['node_modules']);
  t.is(directReadSelection(all, ['app/sub/*.txt']), undefined);
  t.is(directReadSelection(all, ['app-link']), undefined);
  t.is(directReadSelection(all, ['app-link/sub']), undefined);
  t.is(directReadSelection(all, ['missing']), undefined);
  t.is(directReadSelection(all, ['node_modules/dep']), undefined, 'an ignored source is missing for the view too');
  t.is(directReadSelection(all, ['../app']), undefined);
});
