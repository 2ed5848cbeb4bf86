/**
 * The up-to-date check lists the context with plain lstat; the build's record is written from
 * the hasher's bigint lstat. Both must give the same line for the same entry, whatever its times.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { statLine, statLineOfBigInt } from '../../src/context/listing.js';

test('statLine of a plain lstat equals statLineOfBigInt of a bigint one, for odd and pre-1970 times', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-listing-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const times = ['2024-01-01T00:00:00.123456789Z', '1969-12-31T23:59:59.999999999Z', '1901-12-14T00:00:00.5Z', '2200-06-01T12:00:00.000000001Z', '1970-01-01T00:00:00Z'];
  for (const [i, when] of times.entries()) {
    const file = path.join(dir, `f${i}`);
    await writeFile(file, 'x'.repeat(i));
    execFileSync('touch', ['-h', '-d', when, file]);
    const plain = statLine(`f${i}`, lstatSync(file));
    const big = statLineOfBigInt(`f${i}`, lstatSync(file, { bigint: true }));
    t.is(plain, big, when);
    t.is(Number(big.split('\0')[5]), lstatSync(file).mtimeMs, when);
  }
});
