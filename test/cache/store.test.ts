import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContentStore, fsckContentStore } from '../../src/cache/index.js';
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
  await writeFile(
    worker,
    `import { createContentStore } from ${JSON.stringify(src)};\nconst s = createContentStore(${JSON.stringify(root)});\nlet i = 0;\nfor (;;) { const size = 1000 + ((i * 7919) % 300000); await s.writeBytes(Buffer.alloc(size, i % 251)); i++; }\n`,
  );
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['--import=tsx/esm', worker], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 400 + round * 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
  }
  const store = createContentStore(root);
  const report = await fsckContentStore(store, { repair: true });
  t.true(report.blobs > 0, 'the workers wrote something');
  t.deepEqual(report.corrupt, []);
  t.deepEqual(await readdir(path.join(root, 'content', 'ingest')), []);
  // The store keeps working.
  const again = await store.writeBytes('after the crash');
  t.is((await store.readBytes(again.digest)).toString(), 'after the crash');
});
