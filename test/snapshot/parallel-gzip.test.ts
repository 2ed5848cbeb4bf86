/**
 * The parallel gzip must be one valid gzip member that every gunzip reads back exactly, and its
 * bytes must depend only on the input and the level (never on how the input was chunked).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { createParallelGzip } from '../../src/snapshot/parallel-gzip.js';

async function gzip(data: Buffer, chunk: number, level = 6): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const c of Readable.from(parts).pipe(createParallelGzip(level))) out.push(c as Buffer);
  return Buffer.concat(out);
}

const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i % 977} of a layer with repeats\n`).join(''));
const inputs: Array<[string, Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from('x')],
  ['block - 1', randomBytes(128 * 1024 - 1)],
  ['exactly one block', randomBytes(128 * 1024)],
  ['block + 1', randomBytes(128 * 1024 + 1)],
  ['text, several blocks', text],
  ['random, several blocks', randomBytes(5 * 128 * 1024 + 7)],
];

for (const [name, data] of inputs) {
  test(`${name}: gunzip (zlib and gzip -t) reads it back; chunking does not change the bytes`, async (t) => {
    const a = await gzip(data, 65_536);
    const b = await gzip(data, 1_000_003);
    const c = await gzip(data, 4_097);
    t.deepEqual(gunzipSync(a), data);
    t.true(a.equals(b) && a.equals(c), 'same bytes for every chunking');
    const r = spawnSync('gzip', ['-t'], { input: a });
    t.is(r.status, 0, String(r.stderr));
  });
}

test('levels: 0 stores, 9 compresses repetitive text well below level 1', async (t) => {
  const l0 = await gzip(text, 65_536, 0);
  const l1 = await gzip(text, 65_536, 1);
  const l9 = await gzip(text, 65_536, 9);
  for (const z of [l0, l1, l9]) t.deepEqual(gunzipSync(z), text);
  t.true(l0.length > text.length);
  t.true(l9.length < l1.length, `${l9.length} < ${l1.length}`);
  t.true(l9.length * 20 < text.length);
});
