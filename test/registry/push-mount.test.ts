/**
 * Cross-repository blob mounts on a real registry: a second -t name on the same registry, the
 * base image's repository when a build FROM it is pushed elsewhere on that registry, and any
 * repository an earlier pull or push recorded for the blob (registry/sources.ts) lend
 * their blobs (POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo> answers 201) instead
 * of uploading them again; a refused mount (202) uploads into the session it opened. skopeo then
 * copies every pushed image (verifying each blob).
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContentStore } from '../../src/cache/index.js';
import { createDockerCredentialStore } from '../../src/registry/auth.js';
import { createRegistryClient } from '../../src/registry/client.js';
import { pushBlob } from '../../src/registry/push.js';
import { startFaultProxy, startRegistry, startTokenServer } from '../helpers/registry.js';
import { createHarness } from '../helpers/tsbuild.js';

function skopeoCopies(t: ExecutionContext, ref: string): Promise<void> {
  return (async () => {
    const dest = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-copy-'));
    t.teardown(() => rm(dest, { recursive: true, force: true }));
    const r = spawnSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:x`], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
  })();
}

const mounts = (log: Array<{ method: string; url: string; status?: number }>, repo: string) =>
  log.filter((e) => e.method === 'POST' && e.url.startsWith(`/v2/${repo}/blobs/uploads/?mount=`));

test('blobs are mounted from another repository of the same registry: a second -t name and the base image repository', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const proxy = await startFaultProxy(reg.host, {});
  t.teardown(() => proxy.stop());
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'base');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo base > /base\n');

  const first = await h.runAsync(['build', '--progress=plain', '--push', '-t', `${proxy.host}/team/base:1`, '-t', `${proxy.host}/team/mirror:1`, dir]);
  t.is(first.status, 0, first.stderr);
  t.regex(first.stderr, /pushed \S+\/team\/base:1: 3 blobs uploaded \(\d+ bytes\), 0 mounted, 0 already there/);
  t.regex(first.stderr, /pushed \S+\/team\/mirror:1: 0 blobs uploaded \(0 bytes\), 3 mounted, 0 already there/);
  t.is(mounts(proxy.log, 'team/mirror').filter((e) => e.status === 201 && e.url.includes('from=team%2Fbase')).length, 3);
  t.false(proxy.log.some((e) => e.method === 'PATCH' || (e.method === 'PUT' && e.url.startsWith('/v2/team/mirror/blobs/'))), 'nothing uploaded to the mirror');

  // Another machine builds FROM the pushed image and pushes to a new repository: base layers are mounted.
  const other = await createHarness(t, { busybox: false });
  const app = path.join(other.tmp, 'app');
  await mkdir(app);
  await writeFile(path.join(app, 'Dockerfile'), `FROM ${proxy.host}/team/base:1\nRUN echo app > /app\n`);
  const second = await other.runAsync(['build', '--progress=plain', '--push', '-t', `${proxy.host}/team/app:1`, app]);
  t.is(second.status, 0, second.stderr);
  // The busybox and /base layers come by mount; the new layer and the config are uploaded.
  t.regex(second.stderr, /pushed \S+\/team\/app:1: 2 blobs uploaded \(\d+ bytes\), 2 mounted, 0 already there/);
  t.is(mounts(proxy.log, 'team/app').filter((e) => e.status === 201).length, 2);
  // The new blobs were refused as mounts (202): their uploads went into the sessions those opened.
  t.is(mounts(proxy.log, 'team/app').filter((e) => e.status === 202).length, 2);
  t.false(proxy.log.some((e) => e.method === 'POST' && e.url === '/v2/team/app/blobs/uploads/'), 'no second session opened');

  for (const ref of ['team/base:1', 'team/mirror:1', 'team/app:1']) await skopeoCopies(t, `${reg.host}/${ref}`);
});

test('-o type=image,name=…,push=true and -o type=registry,name=… push like --push; a later push mounts from where an earlier one put the blobs', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'app');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo out > /out\n');
  const image = h.run(['build', '--progress=plain', '-o', `type=image,name=${reg.host}/outputs/image:2,push=true`, dir]);
  t.is(image.status, 0, image.stderr);
  const registry = h.run(['build', '--progress=plain', '-o', `type=registry,name=${reg.host}/outputs/registry:3`, dir]);
  t.is(registry.status, 0, registry.stderr);
  // Same registry, same image, a later run: the blobs are mounted from where the first push put them.
  t.regex(registry.stderr, /pushed \S+\/outputs\/registry:3: 0 blobs uploaded \(0 bytes\), 3 mounted/);
  for (const ref of ['outputs/image:2', 'outputs/registry:3']) await skopeoCopies(t, `${reg.host}/${ref}`);
});

test('a mount whose source scope the token service refuses falls back to an upload', async (t) => {
  const tokens = await startTokenServer({ user: 'robot', password: 'pw', deny: /^repository:secret\// });
  t.teardown(() => tokens.stop());
  const reg = await startRegistry({ token: tokens });
  t.teardown(() => reg.stop());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-mount-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { username: 'robot', password: 'pw' } } }));
  const client = createRegistryClient({ credentials: createDockerCredentialStore({ configDir: dir }) });
  const store = createContentStore(path.join(dir, 'state'));
  const blob = await store.writeBytes(`blob for a refused mount ${Date.now()}`);
  const ctx = { signal: new AbortController().signal, progress: { emit() {} } };
  const stats = { uploaded: 0, skipped: 0, mounted: 0, bytes: 0 };
  await pushBlob(ctx, client, { registry: reg.host, repository: 'team/app' }, store, blob, { mountFrom: ['secret/base'] }, stats);
  t.like(stats, { uploaded: 1, mounted: 0 });
  t.true(tokens.requests.some((q) => q.includes('secret')), 'the mount was tried');
  const head = await client.request({ registry: reg.host, repository: 'team/app' }, `/blobs/${blob.digest}`, { method: 'HEAD' });
  t.is(head.status, 200);
});
