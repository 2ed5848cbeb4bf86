/**
 * A COPY of the context re-run after an edit that changed only file contents copies the changed
 * files and the directories into a delta dir, later steps see it over the previous run's layer,
 * and the layer itself is linked in the background (solver/ops/file-delta.ts). What the steps
 * see, the image and the layers must be what a plain build gives; added, removed or retyped
 * names take the plain path; a build killed while the layer is being linked loses nothing.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHarness, repo, type Harness } from '../helpers/tsbuild.js';

const DOCKERFILE = 'FROM busybox\nWORKDIR /app\nCOPY . /app/\nRUN cat /app/src/m1/f3.txt > /seen && find /app | sort > /names && sleep 0.3\n';

async function project(h: Harness): Promise<string> {
  const dir = path.join(h.tmp, 'ctx');
  for (let d = 0; d < 5; d++) {
    await mkdir(path.join(dir, 'src', `m${d}`), { recursive: true });
    for (let f = 0; f < 20; f++) await writeFile(path.join(dir, 'src', `m${d}`, `f${f}.txt`), `module ${d} file ${f}\n`);
  }
  await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  // Files changed in the last moments before a build are not recorded as unchanged (copy-reuse.ts).
  await sleep(200);
  return dir;
}

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };

/** Builds `dir` in `h`'s root to an OCI tarball; returns its bytes and the COPY step's record. */
async function build(h: Harness, dir: string, n: number): Promise<{ oci: Buffer; copyDelta?: { entries: number }; names: string; seen: string }> {
  const out = path.join(h.tmp, `img${n}.tar`);
  const fs = path.join(h.tmp, `fs${n}`);
  h.ok(['build', '--progress=quiet', '-o', `type=oci,dest=${out},rewrite-timestamp=true`, '-o', `type=local,dest=${fs}`, dir], { env: SDE });
  const record = JSON.parse(h.ok(['history', 'show', 'latest', '--format', 'json'])) as { steps: Array<{ name: string; copyDelta?: { entries: number } }> };
  const copy = record.steps.find((s) => s.name.includes('COPY . /app/'))!;
  return { oci: await readFile(out), ...(copy.copyDelta ? { copyDelta: copy.copyDelta } : {}), names: await readFile(path.join(fs, 'names'), 'utf8'), seen: await readFile(path.join(fs, 'seen'), 'utf8') };
}

/** The same context built cold in a fresh state root: what the image must be. */
async function plain(t: import('ava').ExecutionContext, dir: string): Promise<Buffer> {
  const h = await createHarness(t);
  const out = path.join(h.tmp, 'plain.tar');
  h.ok(['build', '--progress=quiet', '-o', `type=oci,dest=${out},rewrite-timestamp=true`, dir], { env: SDE });
  return readFile(out);
}

// Serial: the other test's synchronous builds would hold this worker's kill timer.
test.serial('an edit of file contents: the COPY runs as a delta, later steps see the whole copy, and the image is the one a fresh root builds', async (t) => {
  const h = await createHarness(t);
  const dir = await project(h);
  const first = await build(h, dir, 1);
  t.is(first.copyDelta, undefined, 'nothing to compare with yet');
  const layers = () => readdirSync(path.join(h.root, 'snapshots', 'layers')).length;
  const before = layers();

  await appendFile(path.join(dir, 'src', 'm1', 'f3.txt'), 'edited\n');
  await appendFile(path.join(dir, 'src', 'm4', 'f0.txt'), 'edited too\n');
  const second = await build(h, dir, 2);
  // The two files, the source root's four levels of directories: src, m0..m4.
  t.deepEqual(second.copyDelta, { entries: 2 + 6 });
  t.is(second.seen, 'module 1 file 3\nedited\n');
  t.is(second.names, first.names, 'the RUN saw every file of the copy');
  t.true(second.oci.equals(await plain(t, dir)), 'byte-identical to a plain build of the same context');
  // Two new layers (the COPY's and the RUN's); the delta dir is gone.
  t.is(layers(), before + 2);

  // A removed name takes the plain path (a whiteout would also hide lower layers' files).
  await rm(path.join(dir, 'src', 'm2', 'f5.txt'));
  await sleep(200);
  const third = await build(h, dir, 3);
  t.is(third.copyDelta, undefined);
  t.false(third.names.includes('/app/src/m2/f5.txt'));
  t.true(third.oci.equals(await plain(t, dir)));

  // So does an added one; the next content-only edit is a delta again.
  await writeFile(path.join(dir, 'src', 'm0', 'new.txt'), 'new\n');
  await sleep(200);
  t.is((await build(h, dir, 4)).copyDelta, undefined);
  await appendFile(path.join(dir, 'src', 'm0', 'new.txt'), 'more\n');
  const fifth = await build(h, dir, 5);
  t.deepEqual(fifth.copyDelta, { entries: 1 + 6 });
  t.true(fifth.names.includes('/app/src/m0/new.txt'));
  t.true(fifth.oci.equals(await plain(t, dir)));
});

test.serial('a build killed while a delta COPY\'s layer is linked loses nothing: the next build is right, prune removes the leftovers', async (t) => {
  const h = await createHarness(t);
  const dir = await project(h);
  h.ok(['build', '--progress=quiet', dir]);
  const layersDir = path.join(h.root, 'snapshots', 'layers');
  const before = new Set(readdirSync(layersDir));
  await appendFile(path.join(dir, 'src', 'm1', 'f3.txt'), 'edited\n');

  // Killed while the RUN after the COPY runs (its sleep), when the layer is linked.
  const child = spawn(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'build', '--progress=rawjson', dir], { env: { ...process.env, TSBUILD_ROOT: h.root }, stdio: ['ignore', 'ignore', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      seen += d;
      if (/"type":"vertex.start"[^\n]*RUN cat/.test(seen)) setTimeout(() => child.kill('SIGKILL'), 100);
    });
    child.on('exit', () => resolve());
  });
  t.false(seen.includes('"type":"build.end"'), 'cut short');
  const leftovers = readdirSync(layersDir).filter((d) => !before.has(d));
  t.true(leftovers.length > 0, 'the killed build left its delta dir (and maybe the layer)');

  const out = path.join(h.tmp, 'fs');
  h.ok(['build', '--progress=quiet', '-o', `type=local,dest=${out}`, dir]);
  t.is(await readFile(path.join(out, 'seen'), 'utf8'), 'module 1 file 3\nedited\n');
  t.is((await readFile(path.join(out, 'names'), 'utf8')).split('\n').filter((l) => l.endsWith('.txt')).length, 100);
  t.is(await readFile(path.join(out, 'app', 'src', 'm1', 'f3.txt'), 'utf8'), 'module 1 file 3\nedited\n');

  // Prune keeps only what the base image holds: nothing of the killed build, nor of the others.
  h.ok(['prune', '--all', '--grace', '0s']);
  const kept = readdirSync(layersDir);
  t.is(kept.length, 1, kept.join(' '));
  t.true(before.has(kept[0]!));
  for (const d of leftovers) t.false(existsSync(path.join(layersDir, d)));
});
