/**
 * The remote build cache between two machines: each harness is a separate, fresh state root,
 * and the project is copied to a different path (and owner) on machine B, so a hit proves the
 * cache keys carry nothing machine-specific.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chown, cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { events, executed, createHarness, type Harness } from '../helpers/tsbuild.js';
import { startFaultProxy, startRegistry } from '../helpers/registry.js';
import { parseCacheExport, parseCacheImport } from '../../src/remote-cache/index.js';

const DOCKERFILE = `FROM busybox:latest AS base
RUN echo base > /base.txt
FROM base
COPY a.txt /a.txt
RUN cat /a.txt > /a-copy.txt
COPY b.txt /b.txt
RUN cat /b.txt > /b-copy.txt && echo done
`;

async function project(h: Harness, name = 'proj'): Promise<string> {
  const dir = path.join(h.tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(dir, 'a.txt'), 'alpha\n');
  await writeFile(path.join(dir, 'b.txt'), 'bravo\n');
  return dir;
}

/** The same project on "machine B": another path, files owned by another user. */
async function copyProject(from: string, h: Harness): Promise<string> {
  const dir = path.join(h.tmp, 'checkout', 'proj-b');
  await cp(from, dir, { recursive: true });
  for (const f of await readdir(dir)) await chown(path.join(dir, f), 1234, 1234);
  await chown(dir, 1234, 1234);
  return dir;
}

interface CacheMeta {
  'containerimage.digest'?: string;
  'containerimage.config.digest': string;
  'tsbuild.cache'?: {
    import?: { blobsDownloaded: number; bytesDownloaded: number; records: number; mountsRestored: number };
    export: Array<{ records: number; blobsUploaded: number; mode: string }>;
  };
}

async function meta(file: string): Promise<CacheMeta> {
  return JSON.parse(await readFile(file, 'utf8')) as CacheMeta;
}

function build(h: Harness, args: string[]) {
  const r = h.run(['build', '--progress=rawjson', ...args]);
  return { ...r, ran: executed(r.stderr), infos: events(r.stderr).filter((e) => e.type === 'info').map((e) => String(e.message)) };
}

async function twoMachines(t: import('ava').ExecutionContext, to: string, from: string): Promise<void> {
  const a = await createHarness(t);
  const projA = await project(a);
  const builtA = build(a, ['--cache-to', to, '--metadata-file', path.join(a.tmp, 'meta.json'), projA]);
  t.is(builtA.status, 0, builtA.stderr);
  t.is(builtA.ran.length, 5, builtA.ran.join('\n'));
  const metaA = await meta(path.join(a.tmp, 'meta.json'));
  t.like(metaA['tsbuild.cache']?.export[0], { records: 5, mode: 'max' });
  t.true((metaA['tsbuild.cache']?.export[0]?.blobsUploaded ?? 0) >= 5);

  // Machine B, no outputs: every step is a hit and no layer is downloaded (only manifest + config).
  const b = await createHarness(t);
  const projB = await copyProject(projA, b);
  const lazy = build(b, ['--cache-from', from, '--metadata-file', path.join(b.tmp, 'lazy.json'), projB]);
  t.is(lazy.status, 0, lazy.stderr);
  t.deepEqual(lazy.ran, []);
  const lazyMeta = await meta(path.join(b.tmp, 'lazy.json'));
  // No image exporter on either machine: no manifest digest (as BuildKit), the same image ID.
  t.is(metaA['containerimage.digest'], undefined);
  t.true(metaA['containerimage.config.digest'].startsWith('sha256:'));
  t.is(lazyMeta['containerimage.config.digest'], metaA['containerimage.config.digest']);
  t.like(lazyMeta['tsbuild.cache']?.import, { blobsDownloaded: 0, records: 5 });
  t.true(lazy.infos.some((m) => /^cache import: 0 blobs, \d+ bytes downloaded/.test(m)), lazy.infos.join('\n'));

  // Machine B exporting the filesystem: zero RUN executions, only the final image's layers fetched.
  const out = path.join(b.tmp, 'out');
  const full = build(b, ['--cache-from', from, '-o', `type=local,dest=${out}`, '--metadata-file', path.join(b.tmp, 'full.json'), projB]);
  t.is(full.status, 0, full.stderr);
  t.deepEqual(full.ran, []);
  const fullMeta = await meta(path.join(b.tmp, 'full.json'));
  t.is(fullMeta['containerimage.config.digest'], metaA['containerimage.config.digest']);
  const imported = fullMeta['tsbuild.cache']?.import;
  // base RUN, COPY a, RUN, COPY b, RUN: five layers on top of busybox, which B has.
  t.is(imported?.blobsDownloaded, 5);
  t.true((imported?.bytesDownloaded ?? 0) > 0);
  t.true(full.infos.some((m) => m === `cache import: 5 blobs, ${imported?.bytesDownloaded} bytes downloaded`), full.infos.join('\n'));
  t.is(await readFile(path.join(out, 'b-copy.txt'), 'utf8'), 'bravo\n');
  t.is(await readFile(path.join(out, 'base.txt'), 'utf8'), 'base\n');
  // Exported as images, A's (new layers compressed at export) and B's (the cache's blobs) are the same image.
  const ociA = build(a, ['-o', `type=oci,dest=${path.join(a.tmp, 'a.tar')}`, '--metadata-file', path.join(a.tmp, 'ocia.json'), projA]);
  t.is(ociA.status, 0, ociA.stderr);
  const ociB = build(b, ['--cache-from', from, '-o', `type=oci,dest=${path.join(b.tmp, 'b.tar')}`, '--metadata-file', path.join(b.tmp, 'ocib.json'), projB]);
  t.is(ociB.status, 0, ociB.stderr);
  t.deepEqual(ociB.ran, []);
  const digestA = (await meta(path.join(a.tmp, 'ocia.json')))['containerimage.digest'];
  t.true(digestA?.startsWith('sha256:'));
  t.is((await meta(path.join(b.tmp, 'ocib.json')))['containerimage.digest'], digestA);
  // What B downloaded is now its own cache: the next build needs no --cache-from.
  t.deepEqual(build(b, ['-o', `type=local,dest=${path.join(b.tmp, 'again')}`, projB]).ran, []);

  // One context file changes on B: only the steps that depend on it run.
  await writeFile(path.join(projB, 'b.txt'), 'changed\n');
  const edited = build(b, ['--cache-from', from, '-o', `type=local,dest=${path.join(b.tmp, 'out2')}`, projB]);
  t.is(edited.status, 0, edited.stderr);
  t.deepEqual(edited.ran.map((n) => n.replace(/^\[[^\]]*\]\s*/, '')), ['COPY b.txt /b.txt', 'RUN cat /b.txt > /b-copy.txt && echo done']);
  t.is(await readFile(path.join(b.tmp, 'out2', 'b-copy.txt'), 'utf8'), 'changed\n');
}

test('registry cache: machine B (empty state root) runs no step, fetches only what its output needs, and reports the bytes', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const ref = `${reg.host}/cache/app:buildcache`;
  await twoMachines(t, `type=registry,ref=${ref},mode=max`, `type=registry,ref=${ref}`);
  // The artifact is an ordinary OCI manifest that other tools can read.
  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { artifactType: string; config: { mediaType: string } };
  t.is(raw.artifactType, 'application/vnd.tsbuild.cache.v1');
  t.is(raw.config.mediaType, 'application/vnd.tsbuild.cache.config.v1+json');

  // A runner that only hit the cache re-exports it elsewhere: blobs it never needed are fetched
  // from the first cache to be pushed, and a third machine hits everything from the copy.
  const b = await createHarness(t);
  const projB = await project(b);
  const ref2 = `${reg.host}/mirror/app-cache:v1`;
  const relay = build(b, ['--cache-from', `type=registry,ref=${ref}`, '--cache-to', `type=registry,ref=${ref2},mode=max`, '--metadata-file', path.join(b.tmp, 'relay.json'), projB]);
  t.is(relay.status, 0, relay.stderr);
  t.deepEqual(relay.ran, []);
  const relayed = (await meta(path.join(b.tmp, 'relay.json')))['tsbuild.cache'];
  t.like(relayed?.export[0], { records: 5, mode: 'max' });
  // Five step layers, the base layer and the config went to the new repository.
  t.true((relayed?.export[0]?.blobsUploaded ?? 0) >= 7, JSON.stringify(relayed));
  const c = await createHarness(t);
  const projC = await project(c);
  const third = build(c, ['--cache-from', ref2, '-o', `type=local,dest=${path.join(c.tmp, 'out')}`, projC]);
  t.is(third.status, 0, third.stderr);
  t.deepEqual(third.ran, []);
  t.is(await readFile(path.join(c.tmp, 'out', 'a-copy.txt'), 'utf8'), 'alpha\n');
});

test('local cache (OCI layout dir): the same two-machine flow', async (t) => {
  const shared = await createHarness(t, { busybox: false });
  const dir = path.join(shared.tmp, 'ci-cache');
  await twoMachines(t, `type=local,dest=${dir},mode=max`, `type=local,src=${dir}`);
  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}:latest`], { encoding: 'utf8' })) as { artifactType: string };
  t.is(raw.artifactType, 'application/vnd.tsbuild.cache.v1');
});

const TWO_STAGES = `FROM busybox:latest AS builder
RUN echo built > /artifact
FROM busybox:latest
COPY --from=builder /artifact /artifact
COPY a.txt /a.txt
RUN cat /a.txt /artifact > /out.txt
`;

test('mode=min exports only the final image steps; mode=max also the other stages', async (t) => {
  const a = await createHarness(t);
  const proj = await project(a);
  await writeFile(path.join(proj, 'Dockerfile'), TWO_STAGES);
  const min = path.join(a.tmp, 'min');
  const max = path.join(a.tmp, 'max');
  const built = build(a, ['--cache-to', `type=local,dest=${min}`, '--cache-to', `type=local,dest=${max},mode=max`, '--metadata-file', path.join(a.tmp, 'm.json'), proj]);
  t.is(built.status, 0, built.stderr);
  const exportsA = (await meta(path.join(a.tmp, 'm.json')))['tsbuild.cache']?.export ?? [];
  t.deepEqual(exportsA.map((e) => [e.mode, e.records]), [['min', 3], ['max', 4]]);

  // The final image needs nothing else: with min the whole default target is still a hit (the
  // COPY --from key derives from the builder's key, which is computed without running it)...
  const b = await createHarness(t);
  const projB = await copyProject(proj, b);
  t.deepEqual(build(b, ['--cache-from', `type=local,src=${min}`, projB]).ran, []);
  // ...but the intermediate stage's step is only in the max export.
  const target = build(b, ['--target', 'builder', '--cache-from', `type=local,src=${min}`, projB]);
  t.is(target.status, 0, target.stderr);
  t.is(target.ran.length, 1);
  const c = await createHarness(t);
  const projC = await copyProject(proj, c);
  const hit = build(c, ['--target', 'builder', '--cache-from', `type=local,src=${max}`, projC]);
  t.is(hit.status, 0, hit.stderr);
  t.deepEqual(hit.ran, []);
});

test('a missing or corrupt cache source warns and the build goes on', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const h = await createHarness(t);
  const proj = await project(h);
  const garbage = path.join(h.tmp, 'garbage');
  await mkdir(path.join(garbage, 'blobs', 'sha256'), { recursive: true });
  await writeFile(path.join(garbage, 'index.json'), '{"manifests": 12');
  // A valid layout whose manifest is not a tsbuild cache.
  const foreign = path.join(h.tmp, 'foreign');
  const notCache = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: [] }));
  const { createHash } = await import('node:crypto');
  const hex = createHash('sha256').update(notCache).digest('hex');
  await mkdir(path.join(foreign, 'blobs', 'sha256'), { recursive: true });
  await writeFile(path.join(foreign, 'blobs', 'sha256', hex), notCache);
  await writeFile(path.join(foreign, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: notCache.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));

  const r = build(h, [
    '--cache-from', `type=registry,ref=${reg.host}/nothing/here:cache`,
    '--cache-from', `type=local,src=${garbage}`,
    '--cache-from', `type=local,src=${foreign}`,
    '--cache-from', 'type=registry,ref=127.0.0.1:1/closed:port',
    '-o', `type=local,dest=${path.join(h.tmp, 'out')}`,
    proj,
  ]);
  t.is(r.status, 0, r.stderr);
  t.is(r.ran.length, 5);
  const warnings = events(r.stderr).filter((e) => e.type === 'warning' && e.rule === 'CacheImport').map((e) => String(e.message));
  t.is(warnings.length, 4, warnings.join('\n'));
  t.true(warnings.some((w) => w.includes('ERR_TSBUILD_CACHE_FORMAT')));
  t.is(await readFile(path.join(h.tmp, 'out', 'a-copy.txt'), 'utf8'), 'alpha\n');
});

test('cache options are validated before the build, with codes', (t) => {
  const code = (fn: () => unknown) => (t.throws(fn) as { code?: string } | undefined)?.code;
  t.is(code(() => parseCacheExport('type=s3,bucket=x')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheExport('type=registry')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheExport('type=registry,ref=r.test/a:b,mode=all')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheExport('type=registry,ref=r.test/a:b,bogus=1')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheExport('type=local,src=x')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheExport('type=registry,ref=Bad/Upper:x')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheExport('type=local,dest=x,cache-mounts=maybe')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheImport('type=local,dest=x')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.is(code(() => parseCacheImport('type=registry,ref=r.test/a:b,mode=max')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.like(parseCacheExport('type=registry,ref=r.test/a/b'), { mode: 'min', cacheMounts: false, location: { type: 'registry', ref: { registry: 'r.test', repository: 'a/b', tag: 'latest' } } });
  t.like(parseCacheExport('type=local,dest=d,mode=max,cache-mounts=true'), { mode: 'max', cacheMounts: true, location: { type: 'local', dir: 'd', tag: 'latest' } });
  t.like(parseCacheExport('type=registry,ref=r.test/a:c,image-manifest=true,oci-mediatypes=true'), { mode: 'min' });
  t.is(code(() => parseCacheExport('type=registry,ref=r.test/a:c,oci-mediatypes=false')), 'ERR_TSBUILD_CACHE_OPTIONS');
  t.like(parseCacheImport('r.test/app:cache'), { location: { type: 'registry', ref: { repository: 'app', tag: 'cache' } } });
});

test('a bad --cache-to fails the CLI before any step runs', async (t) => {
  const h = await createHarness(t, { busybox: false });
  await mkdir(path.join(h.tmp, 'p'));
  await writeFile(path.join(h.tmp, 'p', 'Dockerfile'), 'FROM busybox\nRUN exit 1\n');
  const r = h.run(['--debug', 'build', '--progress=rawjson', '--cache-to', 'type=gha', path.join(h.tmp, 'p')]);
  t.is(r.status, 1);
  t.regex(r.stderr, /code: ERR_TSBUILD_CACHE_OPTIONS/);
  t.deepEqual(executed(r.stderr), []);
});

test('cache mounts (opt-in): exported by id and restored into an empty mount on another machine', async (t) => {
  const a = await createHarness(t);
  const proj = path.join(a.tmp, 'mnt');
  await mkdir(proj);
  await writeFile(
    path.join(proj, 'Dockerfile'),
    'FROM busybox\nCOPY v.txt /v.txt\nRUN --mount=type=cache,id=pkgs,target=/var/cache/pkgs cat /v.txt >> /var/cache/pkgs/seen && cp /var/cache/pkgs/seen /seen\n',
  );
  await writeFile(path.join(proj, 'v.txt'), 'one\n');
  const withMounts = path.join(a.tmp, 'with');
  const without = path.join(a.tmp, 'without');
  const built = build(a, ['--cache-to', `type=local,dest=${withMounts},mode=max,cache-mounts=true`, '--cache-to', `type=local,dest=${without},mode=max`, proj]);
  t.is(built.status, 0, built.stderr);

  // B changes the input, so the RUN runs again: it finds A's cache mount contents.
  const b = await createHarness(t);
  const projB = await copyProject(proj, b);
  await writeFile(path.join(projB, 'v.txt'), 'two\n');
  const out = path.join(b.tmp, 'out');
  const r = build(b, ['--cache-from', `type=local,src=${withMounts}`, '-o', `type=local,dest=${out}`, '--metadata-file', path.join(b.tmp, 'm.json'), projB]);
  t.is(r.status, 0, r.stderr);
  t.is(r.ran.length, 2);
  t.is(await readFile(path.join(out, 'seen'), 'utf8'), 'one\ntwo\n');
  t.is((await meta(path.join(b.tmp, 'm.json')))['tsbuild.cache']?.import?.mountsRestored, 1);

  // Without the opt-in the mount starts empty.
  const c = await createHarness(t);
  const projC = await copyProject(proj, c);
  await writeFile(path.join(projC, 'v.txt'), 'two\n');
  const outC = path.join(c.tmp, 'out');
  const rc = build(c, ['--cache-from', `type=local,src=${without}`, '-o', `type=local,dest=${outC}`, projC]);
  t.is(rc.status, 0, rc.stderr);
  t.is(await readFile(path.join(outC, 'seen'), 'utf8'), 'two\n');
});

test('importing through a flaky registry: 500s and a dropped blob are retried, nothing runs', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const a = await createHarness(t);
  const proj = await project(a);
  const exported = build(a, ['--cache-to', `type=registry,ref=${reg.host}/cache/flaky:c,mode=max`, proj]);
  t.is(exported.status, 0, exported.stderr);

  const proxy = await startFaultProxy(reg.host, { fail500: 2, drop: 1 });
  t.teardown(() => proxy.stop());
  const b = await createHarness(t);
  const projB = await copyProject(proj, b);
  const out = path.join(b.tmp, 'out');
  // Async: the proxy lives in this process and must keep answering while the CLI runs.
  const r = await b.runAsync(['build', '--progress=rawjson', '--cache-from', `type=registry,ref=${proxy.host}/cache/flaky:c`, '-o', `type=local,dest=${out}`, projB]);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(executed(r.stderr), []);
  t.is(await readFile(path.join(out, 'b-copy.txt'), 'utf8'), 'bravo\n');
  t.true(proxy.hits.failed >= 1 && proxy.hits.dropped === 1, JSON.stringify(proxy.hits));
});

test('a failed cache export fails the build with a code, or only warns with ignore-error=true', async (t) => {
  const h = await createHarness(t);
  const proj = await project(h);
  // A destination below a regular file can never be created.
  const blocked = path.join(proj, 'a.txt', 'cache');
  const failed = h.run(['--debug', 'build', '--progress=rawjson', '--cache-to', `type=local,dest=${blocked}`, proj]);
  t.is(failed.status, 1);
  t.regex(failed.stderr, /code: ERR_TSBUILD_CACHE_EXPORT/);
  const tolerated = build(h, ['--cache-to', `type=local,dest=${blocked},ignore-error=true`, proj]);
  t.is(tolerated.status, 0, tolerated.stderr);
  t.true(events(tolerated.stderr).some((e) => e.type === 'warning' && e.rule === 'CacheExport'));
});
