import test from 'ava';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statLine } from '../../src/context/listing.js';
import { listingLstat, listingLstatSource } from '../../src/util/listing-lstat.js';

test('the listing lstat gives the lines fs.lstatSync gives, undefined for a missing entry, and throws on a path through a file', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-lstat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'sub'));
  writeFileSync(path.join(dir, 'sub', 'f'), 'hello\n', { mode: 0o640 });
  // A time with a fraction of a millisecond: the ms value must be computed exactly as Node's.
  utimesSync(path.join(dir, 'sub', 'f'), 1_700_000_000.123456, 1_700_000_000.987654);
  symlinkSync('sub/f', path.join(dir, 'link'));
  writeFileSync(path.join(dir, 'big'), Buffer.alloc(70_000));

  const lstat = listingLstat(dir);
  // On the Node this project runs on (20), the binding proves itself: were it refused after an
  // upgrade, the check would still be right but the no-op slower, and this says so.
  t.is(listingLstatSource(), 'binding');
  for (const rel of ['sub', 'sub/f', 'link', 'big']) {
    const p = path.join(dir, rel);
    t.is(statLine(rel, lstat(p)!), statLine(rel, lstatSync(p)), rel);
  }
  t.is(lstat(path.join(dir, 'nope')), undefined);
  t.is(lstat(path.join(dir, 'sub', 'nope', 'deeper')), undefined);
  t.throws(() => lstat(path.join(dir, 'big', 'x')), { code: 'ENOTDIR' });
  // A NUL byte never reaches the syscall cut short.
  t.is(lstat(`${path.join(dir, 'sub')}\0/f`), undefined);
});
