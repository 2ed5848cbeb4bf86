import test from 'ava';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { collectGarbage, openStateRoot, parseByteSize, type DiskUsage } from '../../src/cache/index.js';
import { createHarness, executed, type Harness } from '../helpers/tsbuild.js';
import { importRootfs, resolveLocalImage } from '../../src/oci/index.js';

async function tmp(t: import('ava').ExecutionContext): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-gc-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A busybox rootfs tar made with the system tar, plus an extra file so two rootfs differ. */
async function rootfsTar(dir: string, name: string, extra: string): Promise<string> {
  const rootfs = path.join(dir, `${name}-rootfs`);
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await mkdir(path.join(rootfs, 'etc'));
  execFileSync('cp', ['/bin/busybox', path.join(rootfs, 'bin/busybox')]);
  for (const l of ['sh', 'ls', 'cat', 'echo']) await symlink('busybox', path.join(rootfs, 'bin', l));
  await writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\n');
  await writeFile(path.join(rootfs, 'etc/extra'), extra);
  const tar = path.join(dir, `${name}.tar`);
  execFileSync('tar', ['-C', rootfs, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', tar, '.']);
  return tar;
}

test('gc removes blobs unreachable from image records and keep roots; fsck reports broken records', async (t) => {
  const dir = await tmp(t);
  const state = await openStateRoot({ root: path.join(dir, 'root'), env: {} });
  const created = new Date(0);
  const tarA = await rootfsTar(dir, 'a', 'a\n');
  const a = await importRootfs(state.content, state.images, tarA, 'docker.io/library/a:latest', { created });
  // The same rootfs under a second name: the layer is stored once (only the config, whose history
  // names the image, and the manifest pointing at it are new).
  const before = (await readdir(path.join(state.root, 'content/blobs/sha256'))).length;
  const a2 = await importRootfs(state.content, state.images, tarA, 'localhost:5000/a:1', { created: new Date(0) });
  t.is((await readdir(path.join(state.root, 'content/blobs/sha256'))).length, before + 2);
  const layerOf = async (n: string) => (await resolveLocalImage(state.content, state.images, n))!.manifest.layers[0]!.digest;
  t.is(await layerOf('localhost:5000/a:1'), await layerOf('a'));
  t.not(a2.manifest.digest, a.manifest.digest);
  const b = await importRootfs(state.content, state.images, await rootfsTar(dir, 'b', 'b\n'), 'docker.io/library/b:latest', { created });
  const orphan = await state.content.writeBytes('nobody refers to me');
  const kept = await state.content.writeBytes('a cache root');
  // Age every blob past the grace period so gc may remove what is unreachable.
  for (const n of await readdir(path.join(state.root, 'content/blobs/sha256'))) await utimes(path.join(state.root, 'content/blobs/sha256', n), 1, 1);

  t.true(await state.images.delete('docker.io/library/a:latest'));
  const gc1 = await collectGarbage(state, { keep: [kept.digest] });
  // a's own config and manifest go; its layer stays, reachable through localhost:5000/a:1.
  t.true(gc1.removed.includes(orphan.digest));
  t.true(gc1.removed.includes(a.manifest.digest));
  t.is(gc1.removed.length, 3);
  t.true(await state.content.has(kept.digest));
  t.truthy(await resolveLocalImage(state.content, state.images, 'localhost:5000/a:1'));

  t.true(await state.images.delete('localhost:5000/a:1'));
  const gc2 = await collectGarbage(state, { keep: [kept.digest] });
  t.true(gc2.removed.includes(a2.manifest.digest));
  t.false(await state.content.has(a2.manifest.digest));
  const img = await resolveLocalImage(state.content, state.images, 'b');
  t.is(img?.record.name, 'docker.io/library/b:latest');
  t.is(img?.manifestDigest, b.manifest.digest);
  t.is(img?.config.rootfs.diff_ids.length, 1);
  t.true(await state.content.has(b.manifest.digest));
  t.true((await state.fsck()).ok);

  // A record whose layer vanished is reported by fsck.
  await state.content.delete(img!.manifest.layers[0]!.digest);
  const report = await state.fsck();
  t.false(report.ok);
  t.deepEqual(report.brokenImages, [{ name: 'docker.io/library/b:latest', missing: [img!.manifest.layers[0]!.digest] }]);
});

test('gc keeps recently written blobs (a concurrent build may not have recorded them yet)', async (t) => {
  const state = await openStateRoot({ root: path.join(await tmp(t), 'root'), env: {} });
  const fresh = await state.content.writeBytes('just written');
  t.deepEqual((await collectGarbage(state)).removed, []);
  t.true(await state.content.has(fresh.digest));
});

const child = `
import { acquireLock } from ${JSON.stringify(path.resolve('src/cache/lock.ts'))};
import { appendFileSync } from 'node:fs';
const [root, log] = process.argv.slice(2);
for (let i = 0; i < 15; i++) {
  const release = await acquireLock(root, 'shared');
  appendFileSync(log, 'in ' + process.pid + '\\n');
  await new Promise((r) => setTimeout(r, 2));
  appendFileSync(log, 'out ' + process.pid + '\\n');
  await release();
}
`;

test('lock: mutual exclusion across processes, and a SIGKILLed holder does not block the next one', async (t) => {
  const dir = await tmp(t);
  const root = path.join(dir, 'root');
  const script = path.join(dir, 'child.mts');
  await writeFile(script, child);
  const log = path.join(dir, 'log');
  const run = () =>
    new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', script, root, log], { stdio: 'inherit' });
      p.on('exit', resolve);
    });
  t.deepEqual(await Promise.all([run(), run(), run()]), [0, 0, 0]);
  const lines = execFileSync('cat', [log], { encoding: 'utf8' }).trim().split('\n');
  t.is(lines.length, 90);
  // Every "in" is immediately followed by the "out" of the same process: nobody entered while held.
  for (let i = 0; i < lines.length; i += 2) t.is(lines[i + 1], lines[i]!.replace('in', 'out'));

  // A holder killed with SIGKILL leaves its lock file; the next process detects it as stale.
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(path.resolve('src/cache/lock.ts'))}).then(async (m) => { await m.acquireLock(${JSON.stringify(root)}, 'held'); console.log('held'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  const state = await openStateRoot({ root, env: {} });
  await t.throwsAsync(import('../../src/cache/lock.js').then((m) => m.acquireLock(root, 'held', { timeoutMs: 100 })), { code: 'ERR_TSBUILD_STORE_LOCKED' });
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const release = await state.lock('held');
  await release();
  // Released locks leave no files behind.
  t.deepEqual(await readdir(path.join(root, 'locks')), []);
});

test('parseByteSize follows docker --keep-storage units', (t) => {
  t.is(parseByteSize('1'), 1);
  t.is(parseByteSize('512MB'), 512 * 1024 ** 2);
  t.is(parseByteSize('2GiB'), 2 * 1024 ** 3);
  t.is(parseByteSize('1.5k'), 1536);
  t.is(parseByteSize('12 parsecs'), undefined);
  t.is(parseByteSize('-1'), undefined);
});

/** A project whose one RUN writes `bytes` of random data to /<name>. */
async function project(h: Harness, name: string, bytes: number, from = 'busybox'): Promise<string> {
  const dir = path.join(h.tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${from}\nRUN head -c ${bytes} /dev/urandom > /${name} && echo made ${name}\n`);
  return dir;
}

const du = (h: Harness): DiskUsage => JSON.parse(h.ok(['du', '--format', 'json'])) as DiskUsage;
const runs = (h: Harness, args: string[]): string[] => {
  const r = h.run(['build', '--progress=rawjson', ...args]);
  if (r.status !== 0) throw new Error(r.stderr);
  return executed(r.stderr).filter((n) => n.includes('RUN'));
};

test('prune --keep-storage drops least recently used cache first and the cap holds', async (t) => {
  const h = await createHarness(t);
  const one = await project(h, 'one', 400_000);
  const two = await project(h, 'two', 400_000);
  t.is(runs(h, [one]).length, 1);
  t.is(runs(h, [two]).length, 1);
  // Using `one` again (a full cache hit) makes `two` the least recently used.
  t.deepEqual(runs(h, [one]), []);
  const before = du(h);
  t.is(before.cacheRecords.count, 2);
  t.true(before.buildCache > 1_600_000, `blob + unpacked layer of each RUN: ${before.buildCache}`);

  // The default grace period protects what builds just wrote or used: nothing goes.
  const safe = JSON.parse(h.ok(['prune', '--keep-storage', '1', '--format', 'json'])) as { records: number; blobs: number; capHeld: boolean };
  t.is(safe.records, 0);
  t.is(safe.blobs, 0);
  t.false(safe.capHeld);
  t.is(du(h).cacheRecords.count, 2);

  const cap = Math.floor(before.buildCache * 0.75);
  const r = JSON.parse(h.ok(['prune', '--keep-storage', `${cap}`, '--grace', '0s', '--format', 'json'])) as { records: number; capHeld: boolean };
  t.is(r.records, 1);
  t.true(r.capHeld);
  const after = du(h);
  t.true(after.buildCache <= cap, `${after.buildCache} <= ${cap}`);
  t.true(after.buildCache > 0);
  // What is left on disk agrees with du: measure the unpacked layer dirs ourselves.
  const layers = await readdir(path.join(h.root, 'snapshots/layers'));
  t.is(layers.length, after.layers.count);
  t.deepEqual(runs(h, [one]), [], 'the recently used record survived');
  t.is(runs(h, [two]).length, 1, 'the least recently used record was dropped');
});

test('prune keeps what images hold; prune --all drops every cache record', async (t) => {
  const h = await createHarness(t);
  const one = await project(h, 'one', 200_000);
  const two = await project(h, 'two', 200_000);
  t.is(runs(h, ['-t', 'keep:1', one]).length, 1);
  t.is(runs(h, [two]).length, 1);
  h.ok(['prune', '--keep-storage', '1', '--grace', '0']);
  const after = du(h);
  t.true(after.buildCache <= 1, `build cache ${after.buildCache}`);
  t.is(after.reclaimable, 0);
  const ls = h.ok(['image', 'ls']);
  t.regex(ls, /docker\.io\/library\/keep:1/);
  t.notRegex(ls, /missing blobs/);
  // The image's layers and unpacked dirs are intact: a build FROM it runs and reads the file.
  const child = path.join(h.tmp, 'child');
  await mkdir(child);
  await writeFile(path.join(child, 'Dockerfile'), 'FROM keep:1\nRUN wc -c < /one > /size\n');
  const oci = path.join(h.tmp, 'child.tar');
  t.is(runs(h, ['-o', `type=oci,dest=${oci}`, child]).length, 1);
  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${oci}`], { encoding: 'utf8' })) as { Layers: string[] };
  t.is(inspect.Layers.length, 3);

  h.ok(['prune', '--all', '--grace', '0']);
  t.is(du(h).cacheRecords.count, 0);
  t.is(runs(h, [one]).length, 1, 'cache really gone: the RUN runs again');
  // The tagged image still exports after --all.
  const oci2 = path.join(h.tmp, 'keep.tar');
  await writeFile(path.join(child, 'Dockerfile'), 'FROM keep:1\n');
  runs(h, ['-o', `type=oci,dest=${oci2}`, child]);
  t.is((JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${oci2}`], { encoding: 'utf8' })) as { Layers: string[] }).Layers.length, 2);
});

test('prune keeps a record\'s uncompressed layer blob and the compressed variants exports made of it', async (t) => {
  const h = await createHarness(t);
  const one = await project(h, 'one', 100_000);
  t.is(runs(h, [one]).length, 1);
  const record = (await readdir(path.join(h.root, 'cache/keys'))).find((n) => n.endsWith('.json'))!;
  const layer = (JSON.parse(await readFile(path.join(h.root, 'cache/keys', record), 'utf8')) as { layers: Array<{ diffId: string; blob: string; mediaType: string }> }).layers.at(-1)!;
  t.is(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  // The build exported nothing, yet its image config names the layer: its tar was made and
  // stored uncompressed (solver/pending-layers.ts records which tar a layer dir got).
  const tar = (JSON.parse(await readFile(path.join(h.root, 'cache/layer-diffs', `${layer.diffId.slice('sha256:'.length)}.json`), 'utf8')) as { diffId: string }).diffId;
  const blobPath = (d: string) => path.join(h.root, 'content/blobs/sha256', d.slice('sha256:'.length));
  await t.notThrowsAsync(readFile(blobPath(tar)));
  const exportOnce = (name: string) => {
    const r = h.run(['build', '--progress=rawjson', '--metadata-file', path.join(h.tmp, `${name}.json`), '-o', `type=oci,dest=${path.join(h.tmp, `${name}.tar`)}`, one]);
    t.is(r.status, 0, r.stderr);
    return r.stderr;
  };
  t.regex(exportOnce('a'), /1 new layer\(s\) compressed for export/);
  const variants = JSON.parse(await readFile(path.join(h.root, 'cache/compression-variants.json'), 'utf8')) as Record<string, { blob: string }>;
  const gz = variants[`${tar} gzip default`]!.blob;
  h.ok(['prune', '--keep-storage', '100GB', '--grace', '0s']);
  await t.notThrowsAsync(readFile(blobPath(tar)));
  await t.notThrowsAsync(readFile(blobPath(gz)));
  t.notRegex(exportOnce('b'), /compressed for export/, 'the variant survived: nothing compressed again');
  const digest = (n: string) => readFile(path.join(h.tmp, `${n}.json`), 'utf8').then((s) => (JSON.parse(s) as Record<string, string>)['containerimage.digest']);
  t.is(await digest('b'), await digest('a'));
  h.ok(['prune', '--all', '--grace', '0s']);
  await t.throwsAsync(readFile(blobPath(gz)));
  await t.throwsAsync(readFile(blobPath(tar)));
  // The variant index forgets blobs prune deleted (it does not grow without bound), and the
  // layer's tar record goes with its dir.
  const left = JSON.parse(await readFile(path.join(h.root, 'cache/compression-variants.json'), 'utf8')) as Record<string, unknown>;
  t.is(left[`${tar} gzip default`], undefined);
  t.deepEqual(await readdir(path.join(h.root, 'cache/layer-diffs')), []);
});
