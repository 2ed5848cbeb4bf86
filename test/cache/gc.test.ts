import test from 'ava';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { collectGarbage, openStateRoot } from '../../src/cache/index.js';
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
