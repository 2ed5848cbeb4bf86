import test from 'ava';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statLine } from '../../src/context/listing.js';
import { fastLstatSource, listingLstat, statsLstat } from '../../src/util/fast-lstat.js';

const FIELDS = ['dev', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'blksize', 'ino', 'size', 'blocks', 'atimeMs', 'mtimeMs', 'ctimeMs', 'birthtimeMs'] as const;
const KINDS = ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isCharacterDevice', 'isBlockDevice', 'isSocket'] as const;

/** Everything a Stats tells, as plain data. */
const described = (st: Stats) => ({
  ...Object.fromEntries(FIELDS.map((k) => [k, st[k]])),
  ...Object.fromEntries(KINDS.map((k) => [k, st[k]()])),
  dates: [st.atime, st.mtime, st.ctime, st.birthtime].map((d) => d.getTime()),
});

function tree(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-lstat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'sub'));
  writeFileSync(path.join(dir, 'sub', 'f'), 'hello\n', { mode: 0o640 });
  // Times with fractions of a millisecond: ms and Dates must come out exactly as Node's.
  utimesSync(path.join(dir, 'sub', 'f'), 1_700_000_000.123456, 1_700_000_000.987654);
  symlinkSync('sub/f', path.join(dir, 'link'));
  writeFileSync(path.join(dir, 'big'), Buffer.alloc(70_000));
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  return dir;
}

test('both walks\' lstats give what fs.lstatSync gives: listing lines, every Stats field, kind and Date; absent and failing paths as it does', (t) => {
  const dir = tree(t);
  const listing = listingLstat(dir);
  const stats = statsLstat(dir);
  // On the Node this project runs on (20), the binding proves itself: were it refused after an
  // upgrade, the walks would still be right but slower, and this says so.
  t.is(fastLstatSource(), 'binding');
  for (const rel of ['sub', 'sub/f', 'link', 'big', 'fifo']) {
    const p = path.join(dir, rel);
    t.is(statLine(rel, listing(p)!), statLine(rel, lstatSync(p)), rel);
    t.deepEqual(described(stats(p)), described(lstatSync(p)), rel);
  }
  t.deepEqual(described(stats('/dev/null')), described(lstatSync('/dev/null')));
  // A Date read twice is the same object, as on a Stats.
  const st = stats(path.join(dir, 'sub', 'f'));
  t.is(st.mtime, st.mtime);

  t.is(listing(path.join(dir, 'nope')), undefined);
  t.is(listing(path.join(dir, 'sub', 'nope', 'deeper')), undefined);
  t.throws(() => listing(path.join(dir, 'big', 'x')), { code: 'ENOTDIR' });
  t.throws(() => stats(path.join(dir, 'nope')), { code: 'ENOENT' });
  t.throws(() => stats(path.join(dir, 'big', 'x')), { code: 'ENOTDIR' });
  // A NUL byte never reaches the syscall cut short.
  t.is(listing(`${path.join(dir, 'sub')}\0/f`), undefined);
  t.throws(() => stats(`${path.join(dir, 'sub')}\0/f`));
});
