/**
 * Build records: what one build writes under <root>/history, what `tsbuild history` shows of
 * it, the --metadata-file summary, failed builds, pruning and id lookup.
 */
import test from 'ava';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BUILD_RECORD_VERSION,
  describeFileChanges,
  diffContextSummaries,
  pruneContextSummaries,
  readBuildRecord,
  readBuildRecords,
  writeBuildRecord,
  type BuildRecord,
  type ContextSummary,
} from '../../src/history/index.js';
import { createHarness, events, executed } from '../helpers/tsbuild.js';

const DOCKERFILE = [
  'FROM busybox',
  'COPY a.txt b.txt /data/',
  // Burns CPU inside the container (busybox sh arithmetic), so its step has measurable CPU time.
  'RUN i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done; echo $i > /count',
  'RUN rm /data/b.txt && echo more >> /data/a.txt && echo new > /data/c.txt',
  '',
].join('\n');

test('a build writes a record with per-step facts; history lists and shows it; --metadata-file has the summary', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(dir, 'a.txt'), 'a'.repeat(1000));
  await writeFile(path.join(dir, 'b.txt'), 'b'.repeat(500));
  const meta = path.join(h.tmp, 'meta.json');
  const first = h.run(['build', '--progress=rawjson', '--metadata-file', meta, dir]);
  t.is(first.status, 0, first.stderr);

  const summary = (JSON.parse(await readFile(meta, 'utf8')) as { 'tsbuild.build': Record<string, number | string> })['tsbuild.build'];
  t.like(summary, { steps: 3, cached: 0, executed: 3 });
  t.true(Number(summary.durationMs) > 0);
  const id = String(summary.id);

  const records = await readBuildRecords(h.root);
  t.is(records.length, 1);
  const r = records[0]!;
  t.is(r.id, id);
  t.is(r.version, BUILD_RECORD_VERSION);
  t.is(r.dockerfile, path.join(dir, 'Dockerfile'));
  t.is(r.target, 'stage-0');
  t.true(r.ok);
  t.true(r.endedAt >= r.startedAt);
  t.deepEqual(r.steps.map((s) => [s.id, s.kind, s.line, s.cache]), [
    ['stage-0/2', 'file', 2, 'miss'],
    ['stage-0/3', 'exec', 3, 'miss'],
    ['stage-0/4', 'exec', 4, 'miss'],
  ]);
  const [copy, burn, edit] = r.steps as [BuildRecord['steps'][number], BuildRecord['steps'][number], BuildRecord['steps'][number]];
  t.is(copy.instruction, 'COPY a.txt b.txt /data/');
  t.is(copy.contextBytes, 1500);
  t.is(copy.contextFiles, 2);
  t.deepEqual(copy.context?.map((c) => [c.patterns, c.files, c.bytes]), [[['a.txt', 'b.txt'], 2, 1500]]);
  // /data, a.txt, b.txt are new.
  t.deepEqual(copy.changes, { added: 3, changed: 0, deleted: 0 });
  // No outputs: the layer is stored uncompressed (exports compress it), so its stored size is its tar size.
  t.true(copy.layer!.uncompressedSize! > 1500);
  t.like(copy.layer, { mediaType: 'application/vnd.oci.image.layer.v1.tar', blob: copy.layer!.diffId, size: copy.layer!.uncompressedSize! });
  t.true(burn.cpuMs! >= 20, `cpu ${burn.cpuMs}`);
  t.true(burn.wallMs >= burn.cpuMs! / 2);
  // The same CPU time travels on the step's vertex.end progress event.
  t.is(events(first.stderr).find((e) => e.type === 'vertex.end' && e.vertex === burn.vertex)?.cpuMs, burn.cpuMs);
  t.deepEqual(burn.changes, { added: 1, changed: 0, deleted: 0 });
  t.deepEqual(edit.changes, { added: 1, changed: 1, deleted: 1 });
  t.deepEqual(edit.inputs.map((i) => [i.ref, i.role]), [['stage-0/3', 'root']]);
  t.deepEqual(copy.inputs.map((i) => [i.ref, i.role]), [['image:docker.io/library/busybox:latest', 'root'], ['context', 'copy']]);
  for (const s of r.steps) {
    t.true(s.startedAt! >= r.startedAt && s.endedAt! <= r.endedAt && s.wallMs === s.endedAt! - s.startedAt!);
    t.regex(s.cacheKey, /^sha256:[a-f0-9]{64}$/);
  }

  // A no-op rebuild: the last step is a cache hit, the steps under it were not even looked up.
  const again = h.run(['build', '--progress=rawjson', dir]);
  t.is(again.status, 0, again.stderr);
  t.deepEqual(executed(again.stderr), []);
  const noop = (await readBuildRecords(h.root))[0]!;
  t.deepEqual(noop.steps.map((s) => s.cache), ['skipped', 'skipped', 'hit']);
  t.like(noop.summary, { steps: 3, cached: 3, executed: 0, stepsWallMs: 0 });
  t.deepEqual(noop.steps.map((s) => s.cacheKey), r.steps.map((s) => s.cacheKey));

  const list = h.ok(['history']);
  t.regex(list, /^BUILD ID\s+CREATED\s+DOCKERFILE\s+TARGET\s+DURATION\s+STEPS\s+CACHED\s+STATUS\n/);
  const rows = list.trim().split('\n').slice(1);
  t.is(rows.length, 2);
  t.regex(rows[0]!, new RegExp(`^${noop.id}\\s+\\d+ seconds ago\\s+proj/Dockerfile\\s+stage-0\\s+\\S+\\s+3\\s+3\\s+ok$`));
  t.regex(rows[1]!, new RegExp(`^${id}\\s+\\d+ seconds ago\\s+proj/Dockerfile\\s+stage-0\\s+\\S+\\s+3\\s+0\\s+ok$`));
  const json = JSON.parse(h.ok(['history', '--format', 'json', '-n', '1'])) as BuildRecord[];
  t.is(json.length, 1);
  t.is(json[0]!.id, noop.id);

  const shown = h.ok(['history', 'show', id]);
  t.true(shown.startsWith(`Build:       ${id}\n`));
  t.regex(shown, /Steps:\s+3 \(0 cached, 3 executed\)/);
  t.regex(shown, /\[stage-0 2\/4\] COPY a\.txt b\.txt \/data\/\s+2\s+MISS\s+\S+\s+1\.5kB \(2 files\)\s+\S+\s+\S+\s+3\/0\/0\n/);
  t.regex(shown, /\[stage-0 4\/4\] RUN rm \/data\/b\.txt .*\s+4\s+MISS\s+.*1\/1\/1\n/);
  t.deepEqual(JSON.parse(h.ok(['history', 'show', id, '--format', 'json'])), r);
  t.true(h.ok(['history', 'show', noop.id]).includes('CACHED* = not looked up: a later step was a cache hit.'));

  const missing = h.run(['--debug', 'history', 'show', 'zzzzzzzz']);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /code: ERR_TSBUILD_HISTORY_NOT_FOUND/);
  const badFormat = h.run(['--debug', 'history', 'show', id, '--format', 'png']);
  t.is(badFormat.status, 1);
  t.regex(badFormat.stderr, /code: ERR_TSBUILD_CLI_USAGE/);
});

test('a failed build is recorded with the failing step and its error', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo ok > /ok\nRUN exit 3\n');
  const r = h.run(['build', '--progress=plain', dir]);
  t.is(r.status, 1);
  const [rec] = await readBuildRecords(h.root);
  t.false(rec!.ok);
  t.regex(rec!.error!, /exit code: 3/);
  t.deepEqual(rec!.steps.map((s) => [s.instruction, s.cache, s.error !== undefined]), [
    ['RUN echo ok > /ok', 'miss', false],
    ['RUN exit 3', 'miss', true],
  ]);
  t.true(h.ok(['history', 'show', rec!.id]).includes('(failed)'));
});

test('records: newest first, looked up by unique prefix, pruned past the bound, unreadable ones skipped', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-history-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const make = (id: string, startedAt: number): BuildRecord => ({
    version: BUILD_RECORD_VERSION,
    id,
    startedAt,
    endedAt: startedAt + 5,
    ok: true,
    dockerfile: '/p/Dockerfile',
    context: '/p',
    target: 'stage-0',
    noCache: false,
    buildArgs: [],
    steps: [],
    summary: { steps: 0, cached: 0, executed: 0, durationMs: 5, stepsWallMs: 0, cpuMs: 0 },
  });
  const ids = ['0000000001aaa', '0000000002aaa', '0000000003aaa', '0000000004bbb', '0000000005ccc'];
  for (const [i, id] of ids.entries()) await writeBuildRecord(root, make(id, i), { max: 3 });
  t.deepEqual((await readdir(path.join(root, 'history'))).filter((n) => n.endsWith('.json')).sort(), ['0000000003aaa.json', '0000000004bbb.json', '0000000005ccc.json']);
  t.deepEqual((await readBuildRecords(root)).map((r) => r.id), ['0000000005ccc', '0000000004bbb', '0000000003aaa']);
  t.is((await readBuildRecord(root, '0000000004'))?.id, '0000000004bbb');
  t.is(await readBuildRecord(root, '00000000'), undefined, 'an ambiguous prefix matches nothing');
  await writeFile(path.join(root, 'history', '0000000006ddd.json'), '{"version": 1, "id": ');
  t.deepEqual((await readBuildRecords(root, { limit: 2 })).map((r) => r.id), ['0000000005ccc', '0000000004bbb']);
});

test('context summaries: file-level diff (every kind of change) and pruning of unreferenced summaries', async (t) => {
  const d = (c: string) => `sha256:${c.repeat(64)}` as const;
  const before: ContextSummary = {
    digest: d('a'),
    entries: [
      ['conf', 'file', 0o644, 0, 0, 'h1'],
      ['gone.txt', 'file', 0o644, 0, 0, 'h2'],
      ['link', 'symlink', 0o777, 0, 0, 'conf'],
      ['run.sh', 'file', 0o644, 0, 0, 'h3'],
      ['same.txt', 'file', 0o644, 0, 0, 'h4'],
    ],
  };
  const after: ContextSummary = {
    digest: d('b'),
    entries: [
      ['conf', 'dir', 0o755, 0, 0, null],
      ['link', 'symlink', 0o777, 0, 0, 'run.sh'],
      ['new.txt', 'file', 0o600, 0, 0, 'h5'],
      ['run.sh', 'file', 0o755, 1000, 1000, 'h6'],
      ['same.txt', 'file', 0o644, 0, 0, 'h4'],
    ],
  };
  const changes = diffContextSummaries(before, after);
  t.deepEqual(changes, [
    { path: 'conf', how: 'type', detail: 'file -> dir' },
    { path: 'gone.txt', how: 'removed' },
    { path: 'link', how: 'content' },
    { path: 'new.txt', how: 'added' },
    { path: 'run.sh', how: 'content' },
    { path: 'run.sh', how: 'mode', detail: '0644 -> 0755' },
    { path: 'run.sh', how: 'owner', detail: '0:0 -> 1000:1000' },
  ]);
  t.is(describeFileChanges(changes), 'conf (type file -> dir); gone.txt (removed); link (content); new.txt (added); run.sh (content, mode 0644 -> 0755, owner 0:0 -> 1000:1000)');
  t.is(describeFileChanges(changes, 2), 'conf (type file -> dir); gone.txt (removed); and 3 more');

  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-history-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const ctxDir = path.join(root, 'history', 'context');
  await mkdir(ctxDir, { recursive: true });
  for (const c of ['a', 'b', 'c']) await writeFile(path.join(ctxDir, `${c.repeat(64)}.json`), '{}');
  const step = { context: [{ patterns: ['.'], digest: d('b'), files: 1, bytes: 1 }] } as unknown as BuildRecord['steps'][number];
  await writeBuildRecord(root, {
    version: BUILD_RECORD_VERSION,
    id: '0000000001aaa',
    startedAt: 1,
    endedAt: 2,
    ok: true,
    dockerfile: '/p/Dockerfile',
    context: '/p',
    target: 'stage-0',
    noCache: false,
    buildArgs: [],
    steps: [step],
    summary: { steps: 1, cached: 0, executed: 1, durationMs: 1, stepsWallMs: 1, cpuMs: 0 },
  });
  t.is(await pruneContextSummaries(root), 0, 'below the threshold nothing is read or removed');
  t.is(await pruneContextSummaries(root, { threshold: 0 }), 2);
  t.deepEqual(await readdir(ctxDir), [`${'b'.repeat(64)}.json`]);
});
