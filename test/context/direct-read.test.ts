/**
 * When COPY may read the context in place: only when that sees exactly what the filtered view
 * would (no wildcard, no symlink on a source's way, nothing ignored or unsupported below it).
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
  return { all: await hasher.entries(), excluded: await hasher.excludedPaths() };
}

test('in place: a plain directory or file source with nothing ignored below it', async (t) => {
  const { all, excluded } = await context(t, ['node_modules']);
  t.deepEqual(excluded, ['node_modules']);
  t.deepEqual([...directReadSelection(all, excluded, ['app'])!].sort(), ['app', 'app/a.txt', 'app/debug.log', 'app/sub', 'app/sub/b.txt']);
  // The parents come along, as in the view's tree.
  t.deepEqual([...directReadSelection(all, excluded, ['./app/sub/b.txt', 'app/a.txt'])!].sort(), ['app', 'app/a.txt', 'app/sub', 'app/sub/b.txt']);
  // A fifo is recreated by both ways of reading.
  t.deepEqual([...directReadSelection(all, excluded, ['pipe'])!], ['pipe']);
});

test('through a view: ignored entries below a source, wildcards, symlinks on the way, missing sources', async (t) => {
  const { all, excluded } = await context(t, ['node_modules', '**/*.log']);
  t.deepEqual(excluded.sort(), ['app/debug.log', 'node_modules']);
  t.is(directReadSelection(all, excluded, ['.']), undefined, 'the root holds ignored entries');
  t.is(directReadSelection(all, excluded, ['app']), undefined, 'app/debug.log is ignored');
  t.truthy(directReadSelection(all, excluded, ['app/sub']), 'nothing ignored under app/sub');
  t.is(directReadSelection(all, excluded, ['app/sub/*.txt']), undefined);
  t.is(directReadSelection(all, excluded, ['app-link']), undefined);
  t.is(directReadSelection(all, excluded, ['app-link/sub']), undefined);
  t.is(directReadSelection(all, excluded, ['missing']), undefined);
  t.is(directReadSelection(all, excluded, ['../app']), undefined);
});
