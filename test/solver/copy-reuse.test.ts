/**
 * A COPY of the context run again after an edit links the unchanged files from the layer its
 * previous run made (solver/ops/copy-reuse.ts) and copies the rest; the image is what a plain copy
 * gives.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHarness, layerDirOf, type Harness } from '../helpers/tsbuild.js';

/** Builds, and returns the unpacked dir of the image's top layer plus the exported filesystem. */
async function build(h: Harness, dir: string, n: number): Promise<{ layer: string; fs: string }> {
  const oci = path.join(h.tmp, `img${n}.tar`);
  const fs = path.join(h.tmp, `fs${n}`);
  h.ok(['build', '--progress=quiet', '-o', `type=oci,dest=${oci}`, '-o', `type=local,dest=${fs}`, dir]);
  const layout = path.join(h.tmp, `layout${n}`);
  await mkdir(layout);
  execFileSync('tar', ['-xf', oci, '-C', layout]);
  const blob = async (d: string) => JSON.parse(await readFile(path.join(layout, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
  const manifest = await blob(index.manifests[0].digest);
  const config = await blob(manifest.config.digest);
  const top = (config.rootfs.diff_ids as string[]).at(-1)!;
  return { layer: layerDirOf(h.root, top), fs };
}

test('an edited context: unchanged files are linked from the previous COPY layer, changed ones copied', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'ctx');
  await mkdir(path.join(dir, 'src'), { recursive: true });
  for (const f of ['a', 'b', 'c']) await writeFile(path.join(dir, 'src', f), `${f}\n`);
  await writeFile(path.join(dir, 'src', 'd'), 'd'.repeat(100_000)); // big enough to show in `du` below
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nWORKDIR /app\nCOPY . /app/\n');
  // Files changed in the last moments before a build are not recorded (timestamp granularity).
  await sleep(200);
  const first = await build(h, dir, 1);

  await appendFile(path.join(dir, 'src', 'a'), 'edited\n');
  chmodSync(path.join(dir, 'src', 'b'), 0o600); // metadata only: ctime moves, content does not
  await writeFile(path.join(dir, 'src', 'e'), 'new\n');
  const second = await build(h, dir, 2);
  t.not(second.layer, first.layer);

  const ino = (layer: string, f: string) => lstatSync(path.join(layer, 'app', 'src', f)).ino;
  t.is(ino(second.layer, 'c'), ino(first.layer, 'c'), 'unchanged file linked');
  t.is(ino(second.layer, 'd'), ino(first.layer, 'd'));
  t.not(ino(second.layer, 'a'), ino(first.layer, 'a'), 'edited file copied');
  t.not(ino(second.layer, 'b'), ino(first.layer, 'b'), 'chmod-ed file copied');
  t.is(await readFile(path.join(second.fs, 'app', 'src', 'a'), 'utf8'), 'a\nedited\n');
  t.is(lstatSync(path.join(second.fs, 'app', 'src', 'b')).mode & 0o777, 0o600);
  t.is(lstatSync(path.join(first.layer, 'app', 'src', 'b')).mode & 0o777, 0o644, 'the earlier layer is untouched');
  t.is(await readFile(path.join(second.fs, 'app', 'src', 'e'), 'utf8'), 'new\n');
  t.is(await readFile(path.join(first.layer, 'app', 'src', 'a'), 'utf8'), 'a\n');

  // A file copied once is linked by the next run; a link of a link is the same file.
  await appendFile(path.join(dir, 'src', 'c'), 'x\n');
  const third = await build(h, dir, 3);
  t.is(ino(third.layer, 'e'), ino(second.layer, 'e'));
  t.is(ino(third.layer, 'd'), ino(first.layer, 'd'));
  t.not(ino(third.layer, 'c'), ino(first.layer, 'c'));
  t.is(await readFile(path.join(third.fs, 'app', 'src', 'c'), 'utf8'), 'c\nx\n');

  // `du` counts a file linked into several layer dirs once in all (apparent sizes).
  const seen = new Map<number, number>();
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir)) {
      const st = lstatSync(path.join(dir, n));
      if (st.isDirectory()) walk(path.join(dir, n));
      else seen.set(st.ino, st.size);
    }
  };
  const layersDir = path.join(h.root, 'snapshots', 'layers');
  for (const l of readdirSync(layersDir)) walk(path.join(layersDir, l));
  const unique = [...seen.values()].reduce((a, b) => a + b, 0);
  const du = JSON.parse(h.ok(['du', '--format', 'json'])) as { layers: { count: number; bytes: number } };
  t.true(Math.abs(du.layers.bytes - unique) <= du.layers.count, `du ${du.layers.bytes} vs ${unique} bytes of distinct files`);

  // Pruning the layers drops the records naming them.
  const records = path.join(h.root, 'cache', 'copy-reuse');
  t.true((await readdir(records)).length > 0);
  h.ok(['prune', '--all', '--grace', '0s']);
  t.deepEqual(await readdir(records), []);
});
