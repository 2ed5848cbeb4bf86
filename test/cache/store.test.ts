import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContentStore, fsckContentStore, openStateRoot } from '../../src/cache/index.js';
import { sha256 } from '../../src/util/digest.js';

async function tmp(t: import('ava').ExecutionContext): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-store-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('writes are verified: a wrong expected digest stores nothing', async (t) => {
  const store = createContentStore(await tmp(t));
  const err = await t.throwsAsync(store.writeBytes('hello', { digest: sha256('other') }));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_STORE_DIGEST_MISMATCH');
  t.false(await store.has(sha256('hello')));
  const ok = await store.writeBytes('hello', { digest: sha256('hello'), size: 5 });
  t.is(ok.digest, sha256('hello'));
  t.is((await store.readBytes(ok.digest)).toString(), 'hello');
});

test('concurrent writers of the same blob both succeed', async (t) => {
  const store = createContentStore(await tmp(t));
  const data = Buffer.alloc(1 << 20, 7);
  const rs = await Promise.all(Array.from({ length: 8 }, () => store.writeBytes(data)));
  t.true(rs.every((r) => r.digest === sha256(data)));
  t.deepEqual((await fsckContentStore(store)).corrupt, []);
});

test('SIGKILL at random moments never leaves a corrupt blob; fsck clears stale temp files', async (t) => {
  const root = await tmp(t);
  const worker = path.join(root, 'worker.mjs');
  const src = path.resolve('src/cache/index.ts');
  // Each round writes layers, a manifest naming them, then an image record, under a lock now and
  // then: a kill can land inside any of those steps.
  await writeFile(
    worker,
    `import { openStateRoot } from ${JSON.stringify(src)};
const s = await openStateRoot({ root: ${JSON.stringify(root)}, env: {} });
for (let i = 0; ; i++) {
  const size = 1000 + ((i * 7919) % 300000);
  const layer = await s.content.writeBytes(Buffer.alloc(size, i % 251));
  const config = await s.content.writeBytes(JSON.stringify({ i }));
  const manifest = await s.content.writeBytes(JSON.stringify({ schemaVersion: 2, config: { digest: config.digest, size: config.size }, layers: [{ digest: layer.digest, size: layer.size }] }));
  const release = i % 3 === 0 ? await s.lock('records') : async () => {};
  await s.images.put({ name: 'localhost/img:' + (i % 20), digest: manifest.digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', updated: new Date().toISOString() });
  await release();
}
`,
  );
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['--import=tsx/esm', worker], { stdio: 'ignore' });
    // Random kill moments, after the tsx loader had time to start.
    await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 600)));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
  }
  const state = await openStateRoot({ root, env: {} });
  const store = state.content;
  const report = await state.fsck({ repair: true });
  t.true(report.blobs > 0, 'the workers wrote something');
  t.deepEqual(report.corrupt, []);
  // Records are written after their blobs, so none points at a missing blob.
  t.deepEqual(report.brokenImages, []);
  t.true(report.ok);
  t.true((await state.images.list()).length > 0);
  t.deepEqual(await readdir(path.join(root, 'content', 'ingest')), []);
  t.deepEqual((await readdir(path.join(root, 'images'))).filter((n) => !n.endsWith('.json')), []);
  // A lock left by a killed holder is taken over.
  await (await state.lock('records'))();
  // The store keeps working.
  const again = await store.writeBytes('after the crash');
  t.is((await store.readBytes(again.digest)).toString(), 'after the crash');
});
