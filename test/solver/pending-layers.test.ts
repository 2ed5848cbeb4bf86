/**
 * Layers get their tars only when something needs them (solver/pending-layers.ts): the layers of
 * a stage that is not exported stay snapshot dirs, a later export of that stage makes the same
 * image a direct build makes, build records still know each layer's size, and prune and a lost
 * dir are handled.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readBuildRecords } from '../../src/history/index.js';
import { createHarness, executed, type Harness } from '../helpers/tsbuild.js';

const DOCKERFILE = [
  'FROM busybox AS build',
  'RUN mkdir /out && echo one > /out/a && seq 1 3000 > /out/b && ln -s a /out/link',
  'RUN echo two > /out/c && rm /out/b',
  'FROM busybox',
  'COPY --from=build /out/a /a',
  '',
].join('\n');

async function project(h: Harness): Promise<string> {
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  return dir;
}

const tarsMade = async (h: Harness): Promise<string[]> => readdir(path.join(h.root, 'cache', 'layer-diffs')).catch(() => []);
const epoch = { SOURCE_DATE_EPOCH: '1700000000' };

/** The manifest digest (from --metadata-file) and the layer blobs of an OCI export. */
function exportedLayers(oci: string, meta: string): { digest: string; sizes: number[]; blobs: string[] } {
  const layout = `${oci}.d`;
  mkdirSync(layout);
  execFileSync('tar', ['-xf', oci, '-C', layout]);
  const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
  const manifest = json(path.join(layout, 'blobs', 'sha256', (json(path.join(layout, 'index.json')).manifests[0].digest as string).slice(7)));
  const layers = manifest.layers as Array<{ size: number; digest: string }>;
  return { digest: json(meta)['containerimage.digest'], sizes: layers.map((l) => l.size), blobs: layers.map((l) => l.digest) };
}

test('an unexported stage gets no layer tars; exporting it later gives the image a direct build gives, and the sizes its build record showed', async (t) => {
  const a = await createHarness(t);
  const b = await createHarness(t);
  const dirA = await project(a);
  const dirB = await project(b);

  // The final stage, exported: only its own new layer (the COPY) gets a tar.
  a.ok(['build', '--progress=quiet', '-o', `type=oci,dest=${path.join(a.tmp, 'final.tar')},rewrite-timestamp=true`, dirA], { env: epoch });
  t.is((await tarsMade(a)).length, 1, 'one tar: the COPY layer of the exported stage');
  const [record] = await readBuildRecords(a.root);
  const runs = record!.steps.filter((s) => s.stage === 'build');
  t.is(runs.length, 2);
  for (const s of runs) {
    t.true(s.layer?.pending, `${s.name} has no tar`);
    t.is(s.layer?.diffId, undefined);
    t.true((s.layer?.uncompressedSize ?? 0) > 0);
  }
  t.deepEqual(runs[1]!.changes, { added: 1, changed: 0, deleted: 1 });
  const copy = record!.steps.find((s) => s.stage !== 'build')!;
  t.falsy(copy.layer?.pending);
  t.regex(copy.layer?.diffId ?? '', /^sha256:/);

  // The build stage exported later from the cache, against a fresh root that builds it directly.
  const metaA = path.join(a.tmp, 'a.json');
  const ociA = path.join(a.tmp, 'build.tar');
  const later = a.run(['build', '--progress=rawjson', '--target', 'build', '--metadata-file', metaA, '-o', `type=oci,dest=${ociA},compression=uncompressed,force-compression=true,rewrite-timestamp=true`, dirA], { env: epoch });
  t.is(later.status, 0, later.stderr);
  t.deepEqual(executed(later.stderr), [], 'all from the cache');
  t.is((await tarsMade(a)).length, 3);
  const metaB = path.join(b.tmp, 'b.json');
  const ociB = path.join(b.tmp, 'build.tar');
  b.ok(['build', '--progress=quiet', '--target', 'build', '--metadata-file', metaB, '-o', `type=oci,dest=${ociB},compression=uncompressed,force-compression=true,rewrite-timestamp=true`, dirB], { env: epoch });
  const fromCache = exportedLayers(ociA, metaA);
  const direct = exportedLayers(ociB, metaB);
  t.is(fromCache.digest, direct.digest);
  // Uncompressed blobs are the tars: the sizes the first build recorded without making them.
  t.deepEqual(fromCache.sizes.slice(-2), runs.map((s) => s.layer!.uncompressedSize!));
  // The last layer as a tar reader sees it: the RUN's new file and its deletion.
  const last = fromCache.blobs.at(-1)!;
  t.deepEqual(execFileSync('tar', ['-tf', path.join(`${ociA}.d`, 'blobs', 'sha256', last.slice(7))], { encoding: 'utf8' }).split('\n').filter(Boolean).sort(), ['etc/', 'out/', 'out/.wh.b', 'out/c']);
});

test('a record whose layer dir is gone is a cache miss; prune drops layer dirs with their records', async (t) => {
  const h = await createHarness(t);
  const dir = await project(h);
  h.ok(['build', '--progress=quiet', dir]);
  const again = h.run(['build', '--progress=rawjson', dir]);
  t.deepEqual(executed(again.stderr), []);

  // The build stage's first RUN layer, removed behind tsbuild's back.
  const [record] = await readBuildRecords(h.root);
  const keys = path.join(h.root, 'cache', 'keys');
  const first = record!.steps.find((s) => s.stage === 'build')!;
  const rec = JSON.parse(await readFile(path.join(keys, `${first.cacheKey.slice(7)}.json`), 'utf8')) as { layers: Array<{ diffId: string; pending?: object }> };
  const top = rec.layers.at(-1)!;
  t.truthy(top.pending);
  await rm(path.join(h.root, 'snapshots', 'layers', top.diffId.slice(7)), { recursive: true });
  t.deepEqual(executed(h.run(['build', '--progress=rawjson', dir]).stderr), [], 'the final stage does not need that layer');
  const rebuilt = h.run(['build', '--progress=rawjson', '--target', 'build', dir]);
  t.is(rebuilt.status, 0, rebuilt.stderr);
  t.is(executed(rebuilt.stderr).length, 2, 'both RUNs: the second one\'s chain holds the lost layer');

  const layersBefore = (await readdir(path.join(h.root, 'snapshots', 'layers'))).length;
  h.ok(['prune', '--all', '--grace', '0s']);
  t.deepEqual(await readdir(keys), []);
  const left = await readdir(path.join(h.root, 'snapshots', 'layers'));
  t.true(left.length < layersBefore);
  t.deepEqual(await tarsMade(h), [], 'no tar record outlives its layer dir');
});
