/**
 * The up-to-date check (src/cli/up-to-date.ts, src/uptodate/): an invocation whose inputs are all
 * as its last successful build saw them is answered without building, with the output a full
 * build that hits the cache gives; every kind of change sends it back to the full build.
 * Both write a build record (history/); an answered one's says so (`upToDate`), which is how the
 * tests tell them apart.
 */
import test from 'ava';
import { appendFile, mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { busyboxTar, createHarness, executed, type Harness } from '../helpers/tsbuild.js';
import type { UpToDateRecord } from '../../src/uptodate/record.js';
import type { BuildRecord } from '../../src/history/record.js';
import { statLine } from '../../src/context/listing.js';

const DOCKERFILE = 'FROM busybox\nARG GREETING=hi\nCOPY app/ /app/\nRUN echo "$GREETING" > /greeting\n';

async function project(h: Harness): Promise<string> {
  const dir = path.join(h.tmp, 'proj');
  await mkdir(path.join(dir, 'app'), { recursive: true });
  await mkdir(path.join(dir, 'cache', 'deep'), { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(dir, '.dockerignore'), 'cache\n');
  await writeFile(path.join(dir, 'app', 'a.txt'), 'alpha\n');
  await writeFile(path.join(dir, 'app', 'b.txt'), 'beta\n');
  return dir;
}

/** The newest build record (history/<id>.json), if any. */
function newestRecord(h: Harness): BuildRecord | undefined {
  const dir = path.join(h.root, 'history');
  const newest = existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-z]{13}\.json$/.test(n)).sort().at(-1) : undefined;
  return newest ? (JSON.parse(readFileSync(path.join(dir, newest), 'utf8')) as BuildRecord) : undefined;
}

/** Runs a build; `answered` is true when the up-to-date check answered it (its build record says so). */
function build(h: Harness, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): { answered: boolean; stdout: string; stderr: string; ran: string[]; record: BuildRecord } {
  const before = newestRecord(h)?.id;
  const r = h.run(['build', ...args], { env, ...(cwd ? { cwd } : {}) });
  if (r.status !== 0) throw new Error(`tsbuild build ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  const record = newestRecord(h);
  if (!record || record.id === before) throw new Error(`tsbuild build ${args.join(' ')} wrote no build record`);
  return { answered: record.upToDate === true, stdout: r.stdout, stderr: r.stderr, ran: executed(r.stderr), record };
}

const timeless = (stderr: string): string => stderr.replace(/"time":\d+,/g, '');

/** A build record without what differs between two runs of the same build (ids, times, how it was answered). */
function comparable(r: BuildRecord): unknown {
  const { id, startedAt, endedAt, upToDate, summary, steps, ...rest } = r;
  return { ...rest, summary: { ...summary, durationMs: 0 }, steps: steps.map(({ startedAt: _s, endedAt: _e, ...step }) => step) };
}

test('an unchanged rebuild is answered from its record, with the output a full cache-hit build gives in every progress mode', async (t) => {
  const h = await createHarness(t);
  const dir = await project(h);
  // An unused build arg: its warning is part of every build's output.
  const base = ['-t', 'app:1', '--build-arg', 'GREETING=hello', '--build-arg', 'UNUSED=1', dir];
  const first = build(h, ['--progress=rawjson', ...base]);
  t.false(first.answered);
  t.is(first.ran.length, 2);

  for (const progress of ['rawjson', 'plain', 'quiet']) {
    const iid = path.join(h.tmp, `iid-${progress}`);
    const args = [`--progress=${progress}`, '--iidfile', iid, ...base];
    const fast = build(h, args);
    t.true(fast.answered, progress);
    const fastId = readFileSync(iid, 'utf8');
    const full = build(h, args, { TSBUILD_UP_TO_DATE: '0' });
    t.is(readFileSync(iid, 'utf8'), fastId, `${progress}: same --iidfile`);
    t.false(full.answered, `${progress}: TSBUILD_UP_TO_DATE=0 turns the check off`);
    t.deepEqual(full.ran, []);
    t.is(timeless(fast.stderr), timeless(full.stderr), `${progress}: same progress output`);
    if (progress !== 'quiet') t.regex(fast.stderr, /UNUSED/);
    t.is(fast.stdout, full.stdout, `${progress}: same stdout`);
    // `tsbuild history` lists the answered build as the full cache-hit build would be listed.
    t.deepEqual(comparable(fast.record), comparable(full.record), `${progress}: same build record`);
    t.like(fast.record.summary, { steps: 2, cached: 2, executed: 0 });
  }
  // `tsbuild` alone asks for help, even where `tsbuild build` would be answered.
  build(h, ['--progress=plain', '.'], {}, dir);
  t.true(build(h, ['--progress=plain', '.'], {}, dir).answered);
  t.regex(h.run([], { cwd: dir }).stdout, /^Usage: tsbuild/);
  t.regex(h.run(['--debug'], { cwd: dir }).stdout, /^Usage: tsbuild/);
  // A bad flag value is still the full CLI's to report.
  const bad = h.run(['build', '--progress=bogus', ...base]);
  t.not(bad.status, 0);
  t.regex(bad.stderr, /invalid --progress "bogus"/);
  // A file in an ignored directory the build never reads changes nothing.
  await writeFile(path.join(dir, 'cache', 'deep', 'junk'), 'x');
  t.true(build(h, ['--progress=plain', ...base]).answered);
});

test('every input the record names sends the build back to the full path', async (t) => {
  const h = await createHarness(t);
  const dir = await project(h);
  const args = ['--progress=rawjson', '-t', 'app:1', dir];
  const again = () => build(h, args);
  build(h, args);
  t.true(again().answered);

  // Same size, mtime put back: the ctime still moves.
  const a = path.join(dir, 'app', 'a.txt');
  const st = statSync(a);
  await writeFile(a, 'ALPHA\n');
  await utimes(a, st.atime, st.mtime);
  let r = again();
  t.false(r.answered, 'content edit');
  t.is(r.ran.length, 2, 'the COPY and the RUN after it ran');
  t.true(again().answered);

  // Times alone (a touch, a checkout): the content is what the build hashed, so still answered;
  // other content of the same size with new times is not.
  const later = new Date(Date.now() + 60_000);
  await utimes(a, later, later);
  // Past the racy window: the answer may then write the touched file's new line into the record.
  await new Promise((r) => setTimeout(r, 100));
  t.true(again().answered, 'touch');
  const listed = (): string[] =>
    readdirSync(path.join(h.root, 'cache', 'up-to-date')).flatMap((n) => (JSON.parse(readFileSync(path.join(h.root, 'cache', 'up-to-date', n), 'utf8')) as UpToDateRecord).context.lines);
  t.true(listed().includes(statLine('app/a.txt', lstatSync(a))), 'the record now lists the touched file as it is');
  t.true(again().answered, 'touched before: compared by stat again');
  await writeFile(a, 'ALPHa\n');
  r = again();
  t.false(r.answered, 'same size, other content');
  t.is(r.ran.length, 2);
  // A file the build never hashed (the Dockerfile is read whole, not copied) has nothing to compare.
  await utimes(path.join(dir, 'Dockerfile'), later, later);
  r = again();
  t.false(r.answered, 'touched file no COPY reads');
  t.deepEqual(r.ran, []);
  t.true(again().answered);

  await writeFile(path.join(dir, 'app', 'c.txt'), 'new\n');
  t.false(again().answered, 'new file');
  t.true(again().answered);
  await rm(path.join(dir, 'app', 'c.txt'));
  t.false(again().answered, 'deleted file');

  await appendFile(path.join(dir, '.dockerignore'), '*.md\n');
  t.false(again().answered, '.dockerignore edit');
  await appendFile(path.join(dir, 'Dockerfile'), '# a comment\n');
  r = again();
  t.false(r.answered, 'Dockerfile edit');
  t.deepEqual(r.ran, [], 'a comment changes no step');
  t.true(again().answered);

  t.false(build(h, ['--progress=rawjson', '-t', 'app:1', '--build-arg', 'GREETING=yo', dir]).answered, 'another build arg');
  t.false(build(h, args, { SOURCE_DATE_EPOCH: '1700000000' }).answered, 'another environment');
  t.false(build(h, ['--progress=rawjson', '-t', 'app:1', '-o', `type=oci,dest=${path.join(h.tmp, 'x.tar')}`, dir]).answered, 'a file output is always written');
  t.false(build(h, ['--progress=rawjson', '-t', 'app:1', '-o', `type=oci,dest=${path.join(h.tmp, 'x.tar')}`, dir]).answered);

  // The tag moved to another image: the full build names it again.
  build(h, ['--progress=rawjson', '-t', 'other:1', dir]);
  h.ok(['image', 'import', busyboxTar(), 'app:1'], { env: { SOURCE_DATE_EPOCH: '5' } });
  t.false(again().answered, 'tag moved');
  t.true(again().answered);

  // The base image tag points elsewhere.
  h.ok(['image', 'import', busyboxTar(), 'busybox:latest'], { env: { SOURCE_DATE_EPOCH: '7' } });
  r = again();
  t.false(r.answered, 'base image moved');
  t.is(r.ran.length, 2);
  t.true(again().answered);

  // --no-cache puts another result under the same cache key: the image ID is that one's now.
  const quiet = ['-q', dir];
  const id = build(h, quiet).stdout;
  t.true(build(h, quiet).answered);
  const fresh = build(h, ['-q', '--no-cache', dir]);
  t.not(fresh.stdout, id);
  const after = build(h, quiet);
  t.false(after.answered, 'the result under the key changed');
  t.is(after.stdout, fresh.stdout);

  // Pruning the cache: the record's result is gone, and so is the record.
  h.ok(['prune', '--all', '--grace', '0s']);
  t.deepEqual(await readdir(path.join(h.root, 'cache', 'up-to-date')), []);
  r = again();
  t.false(r.answered, 'after prune');
  t.is(r.ran.length, 2);
});

test('entries changed in the clock tick before the walk: files are vouched for by content, a directory stops the record', async (t) => {
  const { createHash } = await import('node:crypto');
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  const { createContextHasher } = await import('../../src/context/checksum.js');
  const { isUpToDate } = await import('../../src/uptodate/check.js');
  const { saveUpToDate } = await import('../../src/uptodate/write.js');
  const { UP_TO_DATE_VERSION } = await import('../../src/uptodate/record.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-racy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ctx = path.join(dir, 'ctx');
  await mkdir(path.join(ctx, 'sub'), { recursive: true });
  await writeFile(path.join(ctx, 'f'), 'new\n');
  // A window of a minute: what was just made is surely in it, however slow this machine is now.
  const listing = await createContextHasher({ contextDir: ctx, racyMs: 60_000 }).listing();
  t.deepEqual(listing.racy.map((r) => r.path).sort(), ['f', 'sub'], 'just made: both racy');
  const facts = { key: 'k', tool: 'tool', stateRoot: path.join(dir, 'root'), files: [], contextDir: ctx, listing, fileHash: async () => 'x', knownHashes: new Map<string, string>(), images: [], resultRecord: path.join(dir, 'no-record.json'), needs: [], events: [], imageId: 'sha256:1' };
  t.false(await saveUpToDate(facts), 'a racy directory has no content to compare');

  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const result = path.join(dir, 'result.json');
  await writeFile(result, '{}');
  const record = (racy: Array<{ path: string; sha256?: string; content?: string }>): UpToDateRecord => ({
    version: UP_TO_DATE_VERSION, key: 'k', tool: 'tool', files: [], images: [], events: [], imageId: 'sha256:1',
    context: { dir: ctx, lines: listing.lines, skip: listing.skipped, racy, recent: listing.lines.slice(-1), hashes: '' },
    result: { record: result, text: '{}', needs: [] },
  });
  t.true(await isUpToDate(record([{ path: 'f', sha256: sha('new\n') }]), 'tool'));
  t.false(await isUpToDate(record([{ path: 'f', sha256: sha('old\n') }]), 'tool'), 'same stat, other content');
  t.true(await isUpToDate(record([{ path: 'f', content: Buffer.from('new\n').toString('base64') }]), 'tool'));
  t.false(await isUpToDate(record([{ path: 'f', content: Buffer.from('old\n').toString('base64') }]), 'tool'), 'kept whole, compared whole');
  t.false(await isUpToDate(record([]), 'another tsbuild'));
  // The recently changed entries are looked at first: a stale one is a no before any walk.
  const stale = record([{ path: 'f', sha256: sha('new\n') }]);
  stale.context.recent = [listing.lines.at(-1)!.replace(/\0(\d+)$/, (_m, ino: string) => `\0${BigInt(ino) + 1n}`)];
  t.false(await isUpToDate(stale, 'tool'));
});
