/**
 * The layer converter on a real content store: re-encoding keeps the diff_id, the variant index
 * survives garbage and concurrent writers, and a blob that is not its layer is refused.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { openStateRoot } from '../../src/cache/index.js';
import { createLayerConverter, type StoredLayerRef } from '../../src/exporter/index.js';
import { writeLayerToStore } from '../../src/snapshot/index.js';
import { tarOf } from '../helpers/oci-layout.js';

const ctx = { signal: new AbortController().signal, progress: { emit() {} } };

async function setup(t: { teardown(f: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-convert-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const state = await openStateRoot({ root: path.join(dir, 'state') });
  const layers: StoredLayerRef[] = [];
  for (const n of [1, 2]) {
    const tar = await tarOf({ [`file-${n}.txt`]: `content ${n}\n`.repeat(1000) });
    const s = await writeLayerToStore(state.content, Readable.from([tar]), 'gzip');
    layers.push({ diffId: s.diffId, blob: s.digest, mediaType: s.mediaType, size: s.size });
  }
  const converter = createLayerConverter({ store: state.content, root: state.root, lock: state.lock });
  return { dir, state, layers, converter, indexFile: path.join(state.root, 'cache', 'compression-variants.json') };
}

test('gzip -> zstd keeps each diff_id (checked with the zstd tool); nothing to do returns the same array', async (t) => {
  const { state, layers, converter } = await setup(t);
  t.is(await converter.convert(ctx, layers, { compression: 'zstd', force: false }), layers);
  t.is(await converter.convert(ctx, layers, { compression: 'gzip', level: 9, force: true }), layers, 'same compression: kept whatever the level (BuildKit)');
  const out = await converter.convert(ctx, layers, { compression: 'zstd', force: true });
  for (const [i, l] of out.entries()) {
    t.is(l.diffId, layers[i]!.diffId);
    t.is(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const tar = execFileSync('zstd', ['-dc', state.content.blobPath(l.blob)]);
    t.is(`sha256:${createHash('sha256').update(tar).digest('hex')}`, l.diffId);
    t.is((await state.content.stat(l.blob))?.size, l.size);
  }
});

test('a garbage index only costs a re-encode; concurrent converters merge their entries', async (t) => {
  const { state, layers, indexFile } = await setup(t);
  const a = createLayerConverter({ store: state.content, root: state.root, lock: state.lock });
  const b = createLayerConverter({ store: state.content, root: state.root, lock: state.lock });
  const [za, zb] = await Promise.all([a.convert(ctx, layers.slice(0, 1), { compression: 'zstd', force: true }), b.convert(ctx, layers.slice(1), { compression: 'zstd', level: 12, force: true })]);
  const index = JSON.parse(await readFile(indexFile, 'utf8')) as Record<string, { blob: string }>;
  t.deepEqual(Object.keys(index).sort(), [`${layers[0]!.diffId} zstd default`, `${layers[1]!.diffId} zstd 12`].sort());
  t.deepEqual([index[`${layers[0]!.diffId} zstd default`]!.blob, index[`${layers[1]!.diffId} zstd 12`]!.blob], [za[0]!.blob, zb[0]!.blob]);

  await writeFile(indexFile, '{not json');
  const fresh = createLayerConverter({ store: state.content, root: state.root, lock: state.lock });
  const again = await fresh.convert(ctx, layers.slice(0, 1), { compression: 'zstd', force: true });
  t.is(again[0]!.blob, za[0]!.blob, 'zstd output is deterministic');
  t.truthy((JSON.parse(await readFile(indexFile, 'utf8')) as Record<string, unknown>)[`${layers[0]!.diffId} zstd default`]);
});

test('a blob that does not decompress to its diff_id is refused with a code', async (t) => {
  const { layers, converter } = await setup(t);
  const lie = { ...layers[0]!, diffId: layers[1]!.diffId };
  const err = await t.throwsAsync(converter.convert(ctx, [lie], { compression: 'zstd', force: true }));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_STORE_CORRUPT');
});
