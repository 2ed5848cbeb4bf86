import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { countChanges } from '../../src/solver/change-count.js';

test('a file replaced by a directory with content: counted, not an ENOTDIR crash (found by test/compat whiteouts)', async (t) => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-change-count-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const lower = path.join(tmp, 'lower');
  const upper = path.join(tmp, 'upper');
  await mkdir(path.join(lower, 'w'), { recursive: true });
  await writeFile(path.join(lower, 'w', 'f'), 'was a file\n');
  await mkdir(path.join(upper, 'w', 'f'), { recursive: true });
  await writeFile(path.join(upper, 'w', 'f', 'x'), 'inside\n');
  const items = ['w', 'w/f', 'w/f/x'].map((rel) => ({ rel, abs: path.join(upper, rel) }));
  // w: a dir over a dir (not a change); w/f: dir over a file (changed); w/f/x: new (its parent was a file below).
  t.deepEqual(countChanges(items, [lower]), { added: 1, changed: 1, deleted: 0 });
});

test('a new directory tree: everything below a directory no lower has is added; existing entries under kept dirs still count as changes', async (t) => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-change-count-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const lower = [path.join(tmp, 'l1'), path.join(tmp, 'l2')];
  const upper = path.join(tmp, 'upper');
  await mkdir(path.join(lower[1]!, 'work'), { recursive: true });
  await writeFile(path.join(lower[1]!, 'work', 'old'), 'old\n');
  await mkdir(lower[0]!, { recursive: true });
  await mkdir(path.join(upper, 'work', 'src', 'deep'), { recursive: true });
  await writeFile(path.join(upper, 'work', 'old'), 'new\n');
  await writeFile(path.join(upper, 'work', 'src', 'a'), 'a\n');
  await writeFile(path.join(upper, 'work', 'src', 'deep', 'b'), 'b\n');
  const rels = ['work', 'work/old', 'work/src', 'work/src/a', 'work/src/deep', 'work/src/deep/b'];
  const items = rels.map((rel) => ({ rel, abs: path.join(upper, rel) }));
  t.deepEqual(countChanges(items, lower), { added: 4, changed: 1, deleted: 0 });
  // The diff walk's lstat is used when present; same answer.
  const { lstatSync } = await import('node:fs');
  t.deepEqual(countChanges(items.map((i) => ({ ...i, st: lstatSync(i.abs) })), lower), { added: 4, changed: 1, deleted: 0 });
});
