/**
 * Pull and push through a fault-injecting proxy in front of a real registry: 500s, 429s with
 * Retry-After, and connections cut in the middle of a blob (downloads, resumed with Range; and
 * uploads, monolithic and chunked). Transient faults are retried to success; persistent ones fail with a code and
 * leave nothing partial in the content store or the registry.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateRoot } from '../../src/cache/index.js';
import { busyboxLayer, randomFile, skopeoPush, skopeoRaw, tarOf, writeLayout } from '../helpers/oci-layout.js';
import { startFaultProxy, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { createHarness, repo, type Harness } from '../helpers/tsbuild.js';

const codeOf = (stderr: string): string | undefined => /code: (ERR_TSBUILD_\w+)/.exec(stderr)?.[1];

async function registryWithBase(t: ExecutionContext): Promise<{ reg: TestRegistry; layers: string[] }> {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeLayout(dir, 'img', [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [await busyboxLayer(), { tar: await tarOf({ arch: 'amd64\n', noise: randomFile(300 * 1024) }) }] }]);
  skopeoPush(dir, 'img', `${reg.host}/faults/base:1`);
  return { reg, layers: skopeoRaw(`${reg.host}/faults/base:1`).layers!.map((l) => l.digest) };
}

async function project(h: Harness, name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(h.tmp, name);
  await mkdir(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) await writeFile(path.join(dir, f), content);
  return dir;
}

/** Nothing half-written: fsck finds no corrupt blob, no ingest file is left, every image record is whole. */
async function storeIsClean(t: ExecutionContext, h: Harness): Promise<void> {
  const state = await openStateRoot({ root: h.root });
  const report = await state.fsck();
  t.true(report.ok, JSON.stringify(report));
  t.deepEqual(report.corrupt, []);
  t.is(report.staleIngest, 0);
  t.deepEqual(await readdir(path.join(h.root, 'content', 'ingest')).catch(() => []), []);
}

test('pull retries 500s, waits out a 429 Retry-After, and resumes blobs cut off mid-body', async (t) => {
  const { reg, layers } = await registryWithBase(t);
  // Faults hit the two layers (1 MB and 300 kB): big enough that a cut leaves bytes to resume from.
  const proxy = await startFaultProxy(reg.host, { match: new RegExp(`^GET .*/blobs/(${layers.join('|')})`), fail500: 2, status429: 1, retryAfter: 2, drop: 2 });
  t.teardown(() => proxy.stop());
  const h = await createHarness(t, { busybox: false });
  const dir = await project(h, 'app', { Dockerfile: `FROM ${proxy.host}/faults/base:1\nRUN cat /arch > /seen\n` });
  const out = path.join(h.tmp, 'out');
  const r = await h.runAsync(['build', '--progress=plain', '-o', `type=local,dest=${out}`, dir]);
  t.is(r.status, 0, r.stderr);
  t.is(execFileSync('cat', [path.join(out, 'seen')], { encoding: 'utf8' }), 'amd64\n');
  t.deepEqual({ failed: proxy.hits.failed, throttled: proxy.hits.throttled, dropped: proxy.hits.dropped }, { failed: 2, throttled: 1, dropped: 2 });

  // The throttled request was not repeated before the 2 s the registry asked for.
  const i = proxy.log.findIndex((e) => e.status === 429);
  const next = proxy.log.slice(i + 1).find((e) => e.url === proxy.log[i]!.url);
  t.truthy(next);
  t.true(next!.time - proxy.log[i]!.time >= 1900, `retried after ${next!.time - proxy.log[i]!.time} ms`);
  // The dropped downloads broke off mid-body and were resumed where they stopped (Range, 206;
  // a resumed request may itself be cut and resumed again), never restarted from byte 0.
  const resumed = proxy.log.filter((e) => e.range !== undefined);
  t.true(resumed.length >= 1 && resumed.every((e) => /^bytes=[1-9]\d*-$/.test(e.range!)), JSON.stringify(resumed));
  for (const l of layers) {
    const gets = proxy.log.filter((e) => e.url.endsWith(l) && e.status !== 500 && e.status !== 429);
    t.is(gets.filter((e) => e.range === undefined).length, 1, `${l} downloaded from byte 0 once`);
    t.true(gets.at(-1)!.status === (gets.length > 1 ? 206 : 200), JSON.stringify(gets));
  }
  const state = await openStateRoot({ root: h.root });
  for (const l of layers) t.true(await state.content.has(l as `sha256:${string}`));
  await storeIsClean(t, h);
});

test('a registry that ignores Range: a blob cut off mid-body is downloaded again from byte 0 and verified', async (t) => {
  const { reg, layers } = await registryWithBase(t);
  const proxy = await startFaultProxy(reg.host, { match: new RegExp(`^GET .*/blobs/${layers[0]}`), drop: 1, ignoreRange: true });
  t.teardown(() => proxy.stop());
  const h = await createHarness(t, { busybox: false });
  const dir = await project(h, 'app', { Dockerfile: `FROM ${proxy.host}/faults/base:1\nRUN test -x /bin/busybox\n` });
  const r = await h.runAsync(['build', '--progress=plain', dir]);
  t.is(r.status, 0, r.stderr);
  t.is(proxy.hits.dropped, 1);
  // The resume was asked for (Range sent, stripped by the proxy), answered 200, then restarted whole.
  const gets = proxy.log.filter((e) => e.url.endsWith(layers[0]!));
  t.is(gets.length, 3, JSON.stringify(gets));
  t.deepEqual([gets[1]!.range !== undefined, gets[2]!.range], [true, undefined]);
  t.is(gets[2]!.status, 200);
  await storeIsClean(t, h);
});

test('pull that keeps failing (every blob cut off, or every blob a 500) fails with a code and stores nothing partial', async (t) => {
  const { reg, layers } = await registryWithBase(t);
  const h = await createHarness(t, { busybox: false });
  const dir = await project(h, 'app', { Dockerfile: `FROM PROXY/faults/base:1\nRUN true\n` });
  for (const faults of [{ drop: 1000 }, { fail500: 1000 }]) {
    const proxy = await startFaultProxy(reg.host, { match: /^GET .*\/blobs\/sha256:/, ...faults });
    t.teardown(() => proxy.stop());
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${proxy.host}/faults/base:1\nRUN true\n`);
    const started = Date.now();
    const r = await h.runAsync(['--debug', 'build', '--progress=plain', dir]);
    t.not(r.status, 0);
    t.is(codeOf(r.stderr), 'ERR_TSBUILD_REGISTRY_HTTP', r.stderr);
    t.true(Date.now() - started < 45_000);
    const state = await openStateRoot({ root: h.root });
    for (const l of layers) t.false(await state.content.has(l as `sha256:${string}`), `${l} must not be stored`);
    await storeIsClean(t, h);
    await proxy.stop();
  }
});

test('push survives a connection cut mid-chunk (chunked upload) and 500/429/cut-off monolithic uploads', async (t) => {
  t.timeout(110_000);
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const h = await createHarness(t);
  // 40 MB of random data: above the 32 MB chunking threshold, so the layer goes up in PATCHes.
  const dir = await project(h, 'app', { Dockerfile: 'FROM busybox\nCOPY big /big\nCOPY small /small\n', big: randomFile(40 * 1024 * 1024), small: randomFile(200 * 1024) });

  const chunked = await startFaultProxy(reg.host, { match: /^PATCH /, dropUpload: 1 });
  t.teardown(() => chunked.stop());
  const a = await h.runAsync(['build', '--progress=plain', '--push', '-t', `${chunked.host}/faults/chunked:v1`, dir]);
  t.is(a.status, 0, a.stderr);
  t.is(chunked.hits.droppedUploads, 1);
  const patches = chunked.log.filter((e) => e.method === 'PATCH');
  t.true(patches.length >= 4, `${patches.length} PATCH requests (3 chunks after one cut off)`);
  t.true(patches.some((e) => e.status === 202));

  const mono = await startFaultProxy(reg.host, { match: /^(PUT|POST) .*\/blobs\/uploads\//, fail500: 1, status429: 1, retryAfter: 1, dropUpload: 1 });
  t.teardown(() => mono.stop());
  const b = await h.runAsync(['build', '--progress=plain', '--push', '-t', `${mono.host}/faults/mono:v1`, dir]);
  t.is(b.status, 0, b.stderr);
  t.deepEqual({ failed: mono.hits.failed, throttled: mono.hits.throttled, droppedUploads: mono.hits.droppedUploads }, { failed: 1, throttled: 1, droppedUploads: 1 });

  // skopeo verifies every blob against its digest while copying: both pushes landed whole.
  for (const repo of ['faults/chunked:v1', 'faults/mono:v1']) {
    const dest = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-copy-'));
    t.teardown(() => rm(dest, { recursive: true, force: true }));
    const copy = spawnSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${reg.host}/${repo}`, `oci:${dest}:x`], { encoding: 'utf8' });
    t.is(copy.status, 0, copy.stderr);
  }
});

test('push that keeps failing fails with a code and leaves no manifest behind', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const h = await createHarness(t);
  const dir = await project(h, 'app', { Dockerfile: 'FROM busybox\nCOPY small /small\n', small: randomFile(200 * 1024) });
  const proxy = await startFaultProxy(reg.host, { match: /^(PATCH|PUT) .*\/blobs\/uploads\//, dropUpload: 1000 });
  t.teardown(() => proxy.stop());
  const r = await h.runAsync(['--debug', 'build', '--progress=plain', '--push', '-t', `${proxy.host}/faults/never:v1`, dir]);
  t.not(r.status, 0);
  t.is(codeOf(r.stderr), 'ERR_TSBUILD_REGISTRY_HTTP', r.stderr);
  t.true(proxy.hits.droppedUploads >= 5);
  t.false(proxy.log.some((e) => e.method === 'PUT' && e.url.includes('/manifests/')), 'no manifest is put after a failed blob');
  const inspect = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/faults/never:v1`], { encoding: 'utf8' });
  t.not(inspect.status, 0);
  await storeIsClean(t, h);
});

test('Ctrl-C while blobs download stops the build at once (exit 130, ERR_TSBUILD_CANCELLED) and leaves nothing partial', async (t) => {
  const { reg } = await registryWithBase(t);
  // Blob downloads answer only after 30 s: without cancellation the CLI would sit there.
  const proxy = await startFaultProxy(reg.host, { latencyMs: 30_000 });
  t.teardown(() => proxy.stop());
  const h = await createHarness(t, { busybox: false });
  const dir = await project(h, 'app', { Dockerfile: `FROM ${proxy.host}/faults/base:1\nRUN true\n` });
  const child = spawn(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), '--debug', 'build', '--progress=plain', dir], {
    env: { ...process.env, TSBUILD_ROOT: h.root },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  // Wait until the downloads are in flight, then interrupt.
  const deadline = Date.now() + 20_000;
  while (!proxy.log.some((e) => e.url.includes('/blobs/')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(proxy.log.some((e) => e.url.includes('/blobs/')), 'downloads started');
  const interrupted = Date.now();
  child.kill('SIGINT');
  const status = await exited;
  t.true(Date.now() - interrupted < 10_000, `exited ${Date.now() - interrupted} ms after SIGINT`);
  t.is(status, 130, stderr);
  t.is(codeOf(stderr), 'ERR_TSBUILD_CANCELLED', stderr);
  await storeIsClean(t, h);
});
