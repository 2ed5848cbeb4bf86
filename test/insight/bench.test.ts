import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { median, sourceReads, stepsFromEvents, type BenchReport } from '../../src/insight/index.js';
import { createHarness, repo } from '../helpers/tsbuild.js';

const SCENARIO_ROW = (label: string) => new RegExp(`^${label}\\s+\\d+\\.\\d{3}s\\s+\\d+\\.\\d{3}s–\\d+\\.\\d{3}s$`, 'm');

test('bench helpers: medians, COPY source matching, steps from progress events', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 2, 3]), 2.5);
  t.true(sourceReads('.', 'a/b'));
  t.true(sourceReads('./src/', 'src/x.ts'));
  t.false(sourceReads('src', 'srcx/y'));
  t.true(sourceReads('*.txt', 'b.txt'));
  t.true(sourceReads('s*', 'sub/c'));
  t.false(sourceReads('*.txt', 'sub/c.txt'));
  const ev = (e: object) => JSON.stringify(e);
  const steps = stepsFromEvents(
    [
      ev({ type: 'vertex.cached', time: 5, vertex: 'sha256:a', name: '[s 1/2] COPY . /' }),
      ev({ type: 'vertex.start', time: 1000, vertex: 'sha256:b', name: '[s 2/2] RUN x' }),
      'some log line',
      ev({ type: 'vertex.end', time: 3500, vertex: 'sha256:b', ok: true }),
    ].join('\n'),
  );
  t.deepEqual(steps, [
    { name: '[s 1/2] COPY . /', seconds: 0, cached: true },
    { name: '[s 2/2] RUN x', seconds: 2.5, cached: false },
  ]);
});

test('tsbuild bench: four scenarios with medians and spread, per-step table, JSON; the project is left untouched', async (t) => {
  const h = await createHarness(t);
  const proj = path.join(h.tmp, 'proj');
  await mkdir(path.join(proj, 'sub'), { recursive: true });
  await writeFile(path.join(proj, 'Dockerfile'), 'FROM busybox:latest\nWORKDIR /app\nCOPY *.txt /app/\nRUN cat /app/*.txt > /all\nCOPY sub/ /app/sub/\n');
  await writeFile(path.join(proj, 'a.txt'), 'a\n');
  await writeFile(path.join(proj, 'b.txt'), 'b\n');
  await writeFile(path.join(proj, 'sub', 'c'), 'c\n');
  // a.txt is ignored, so the first file the first COPY reads is b.txt.
  await writeFile(path.join(proj, '.dockerignore'), 'a.txt\n');
  const before = await stat(path.join(proj, 'b.txt'));

  const r = h.run(['bench', '--runs', '2', proj]);
  t.is(r.status, 0, r.stderr);
  for (const label of ['cold', 'no-op', 'touch', 'edit']) t.regex(r.stdout, SCENARIO_ROW(label));
  t.regex(r.stdout, /edit file b\.txt/);
  // no-op and touch hit the cache for every step; edit re-runs the COPY and what follows it.
  t.regex(r.stdout, /^\[stage-0 3\/5\] COPY \*\.txt \/app\/\s+\d+\.\d{3} \d+\.\d{2}–\d+\.\d{2}\s+cached\s+cached\s+\d+\.\d{3} \d+\.\d{2}–\d+\.\d{2}$/m);
  t.regex(r.stdout, /^\[stage-0 2\/5\] WORKDIR \/app\s+\d+\.\d{3} \d+\.\d{2}–\d+\.\d{2}\s+cached\s+cached\s+cached$/m);
  t.is((r.stderr.match(/^run \d\/2 (cold|noop|touch|edit) /gm) ?? []).length, 8);

  const j = JSON.parse(h.ok(['bench', '--runs', '1', '--format', 'json', '--edit', 'sub/c', proj])) as BenchReport;
  t.is(j.schemaVersion, 1);
  t.is(j.mode, 'child-process');
  t.is(j.runs, 1);
  t.is(j.editFile, 'sub/c');
  t.deepEqual(j.baseImages, [{ ref: 'docker.io/library/busybox:latest', local: true }]);
  for (const s of ['cold', 'noop', 'touch', 'edit'] as const) {
    t.is(j.scenarios[s].samples.length, 1);
    t.true(j.scenarios[s].median > 0);
  }
  const lastCopy = j.steps.find((s) => s.name.includes('COPY sub/'))!;
  t.is(lastCopy.scenarios.noop!.cachedRuns, 1);
  t.is(lastCopy.scenarios.edit!.cachedRuns, 0);
  t.is(j.steps.find((s) => s.name.includes('COPY *.txt'))!.scenarios.edit!.cachedRuns, 1);

  // The user's project is never modified.
  t.is(await readFile(path.join(proj, 'b.txt'), 'utf8'), 'b\n');
  t.is((await stat(path.join(proj, 'b.txt'))).mtimeMs, before.mtimeMs);
  t.is(await readFile(path.join(proj, 'sub', 'c'), 'utf8'), 'c\n');

  const bad = h.run(['bench', '--runs', '1', '--edit', 'nope.txt', proj, '--debug']);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /ERR_TSBUILD_CLI_USAGE/);
  const zero = h.run(['bench', '--runs', '0', proj, '--debug']);
  t.is(zero.status, 1);
  t.regex(zero.stderr, /ERR_TSBUILD_CLI_USAGE/);
});

test('tsbuild bench --work-dir keeps each run\'s state root, readable by tsbuild history; a non-empty dir is refused', async (t) => {
  const h = await createHarness(t);
  const proj = path.join(h.tmp, 'proj');
  await mkdir(proj, { recursive: true });
  await writeFile(path.join(proj, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n');
  await writeFile(path.join(proj, 'a.txt'), 'a\n');
  const work = path.join(h.tmp, 'work');
  h.ok(['bench', '--runs', '2', '--work-dir', work, proj]);
  for (const run of [1, 2]) {
    const builds = JSON.parse(h.ok(['history', '--format', 'json', '--root', path.join(work, `root-${run}`)])) as unknown[];
    // cold, no-op, touch and edit: each a build of that run's root.
    t.is(builds.length, 4, `root-${run}`);
  }
  t.true(existsSync(path.join(work, 'ctx', 'a.txt')));
  const again = h.run(['bench', '--runs', '1', '--work-dir', work, proj, '--debug']);
  t.is(again.status, 1);
  t.regex(again.stderr, /ERR_TSBUILD_CLI_USAGE/);
  t.true(existsSync(path.join(work, 'root-2')), 'the refused dir is left as it was');
  const file = h.run(['bench', '--runs', '1', '--work-dir', path.join(proj, 'a.txt'), proj, '--debug']);
  t.is(file.status, 1);
  t.regex(file.stderr, /ERR_TSBUILD_CLI_USAGE/);
  t.is(await readFile(path.join(proj, 'a.txt'), 'utf8'), 'a\n');
});

test('tsbuild bench on ../shared/peers/bench prints medians for all four scenarios', async (t) => {
  const candidates = [path.resolve(repo, '..', 'shared', 'peers', 'bench'), '/work/shared/peers/bench'];
  const dir = candidates.find((d) => existsSync(path.join(d, 'gen-context.sh')) && existsSync(path.join(d, 'Dockerfile')));
  if (!dir) {
    t.log(`skipped: no peers bench at ${candidates.join(' or ')}`);
    t.pass();
    return;
  }
  const h = await createHarness(t);
  // The base image from the harness's state root instead of the peer lab's registry.
  const r = h.run(['bench', '--runs', '1', '--build-arg', 'BASE=busybox:latest', dir]);
  t.is(r.status, 0, r.stderr);
  for (const label of ['cold', 'no-op', 'touch', 'edit']) t.regex(r.stdout, new RegExp(`^${label}\\s+\\d+\\.\\d{3}s\\s+-$`, 'm'));
  t.regex(r.stdout, /context from gen-context\.sh/);
  t.regex(r.stdout, /COPY \. \/work\/\s+\d+\.\d{3}\s+cached\s+cached\s+\d+\.\d{3}/);
});

test('a cold run starts like BuildKit after `docker pull`: the copied base image is unpacked in the fresh root', async (t) => {
  const h = await createHarness(t);
  const { openStateRoot } = await import('../../src/cache/index.js');
  const { copyLocalImage, unpackLocalImage } = await import('../../src/insight/bench-project.js');
  const from = await openStateRoot({ root: h.root, env: {} });
  const record = (await from.images.get('docker.io/library/busybox:latest'))!;
  t.truthy(record);
  const fresh = await openStateRoot({ root: path.join(h.tmp, 'fresh'), env: {} });
  await copyLocalImage(from, fresh, record);
  await unpackLocalImage(fresh, record);
  const config = JSON.parse(await readFile(path.join(h.tmp, 'fresh', 'content', 'blobs', 'sha256', (await fresh.content.readJson<{ config: { digest: string } }>(record.digest)).config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
  for (const d of config.rootfs.diff_ids) t.true(existsSync(path.join(h.tmp, 'fresh', 'snapshots', 'layers', d.slice(7), 'bin', 'busybox')), d);
});
