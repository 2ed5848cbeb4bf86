/**
 * Pulling base images from a real registry (Debian's docker-registry) that skopeo filled:
 * Docker v2s2 and OCI manifests, image indexes and Docker manifest lists resolved to the build
 * platform (or --platform, or FROM --platform), digest pins, concurrent and deduplicated layers.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { busyboxLayer, randomFile, skopeoPush, skopeoRaw, tarOf, writeLayout, type PlatformImage } from '../helpers/oci-layout.js';
import { podman } from '../helpers/podman.js';
import { startFaultProxy, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { createHarness, type Harness } from '../helpers/tsbuild.js';

async function registry(t: ExecutionContext): Promise<TestRegistry> {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  return reg;
}

/** Writes `images` as an OCI layout and has skopeo push it to `dest`. */
async function push(t: ExecutionContext, dest: string, images: PlatformImage[], options: { format?: 'v2s2' | 'oci'; unknownEntry?: boolean; zstd?: boolean } = {}): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeLayout(dir, 'img', images, options.unknownEntry ? { unknownEntry: true } : {});
  skopeoPush(dir, 'img', dest, { ...(options.format ? { format: options.format } : {}), multiArch: images.length > 1, zstd: options.zstd === true });
}

const archImage = async (architecture: string, variant?: string): Promise<PlatformImage> => ({
  platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  layers: [await busyboxLayer(), { tar: await tarOf({ arch: `${architecture}\n` }) }],
});

async function project(h: Harness, name: string, dockerfile: string): Promise<string> {
  const dir = path.join(h.tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** Builds with a local output and returns a reader for files of the result. */
function buildTo(t: ExecutionContext, h: Harness, dir: string, extra: string[] = []): (file: string) => Promise<string> {
  const out = path.join(h.tmp, `out-${path.basename(dir)}-${Math.random().toString(36).slice(2)}`);
  const r = h.run(['build', '--progress=plain', ...extra, '-o', `type=local,dest=${out}`, dir]);
  t.is(r.status, 0, r.stderr);
  return (file) => readFile(path.join(out, file), 'utf8');
}

/** The error code of a failed `--debug` run. */
const codeOf = (stderr: string): string | undefined => /code: (ERR_TSBUILD_\w+)/.exec(stderr)?.[1];

test('acceptance: `tsbuild .` on FROM 127.0.0.1:PORT/busybox:latest pulls and builds; --push lands an image podman runs', async (t) => {
  const reg = await registry(t);
  await push(t, `${reg.host}/busybox:latest`, [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [await busyboxLayer()] }]);
  const h = await createHarness(t, { busybox: false });
  const dir = await project(h, 'app', `FROM ${reg.host}/busybox:latest\nRUN echo built-on-a-pulled-base > /built\nCMD ["cat", "/built"]\n`);

  const built = h.run(['.'], { cwd: dir });
  t.is(built.status, 0, built.stderr);
  t.regex(built.stderr, new RegExp(`pulled ${reg.host}/busybox:latest: [1-9]\\d* bytes downloaded`));

  const pushed = h.run(['.', '--push', '-t', `${reg.host}/tsbuild/app:v1`], { cwd: dir });
  t.is(pushed.status, 0, pushed.stderr);
  const run = podman(t, path.join(h.tmp, 'podman'), [reg.host])(['run', '--rm', `${reg.host}/tsbuild/app:v1`]);
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout, 'built-on-a-pulled-base\n');
});

test('images skopeo pushed as Docker v2s2, as OCI, and as OCI with zstd layers serve as bases that build and run', async (t) => {
  const reg = await registry(t);
  const h = await createHarness(t, { busybox: false });
  for (const [variant, format, mediaType, layerType] of [
    ['v2s2', 'v2s2', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ['oci', 'oci', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['zstd', 'oci', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.layer.v1.tar+zstd'],
  ] as const) {
    // zstd goes to a registry of its own: skopeo reuses blobs a registry already has (the gzip ones).
    const host = variant === 'zstd' ? (await registry(t)).host : reg.host;
    const name = `${host}/base/${variant}:1`;
    await push(t, name, [await archImage('amd64')], { format, zstd: variant === 'zstd' });
    const raw = skopeoRaw(name);
    t.is(raw.mediaType, mediaType);
    t.true(raw.layers!.every((l) => l.mediaType === layerType), JSON.stringify(raw.layers));
    const dir = await project(h, variant, `FROM ${name}\nRUN cat /arch > /seen && echo ${variant} >> /seen\n`);
    const read = buildTo(t, h, dir);
    t.is(await read('seen'), `amd64\n${variant}\n`);
  }
});

test('an OCI index and a Docker manifest list resolve to linux/amd64 by default, to --platform when given, and per stage with FROM --platform', async (t) => {
  const reg = await registry(t);
  const h = await createHarness(t, { busybox: false });
  const images = [await archImage('amd64'), await archImage('arm64', 'v8'), await archImage('arm', 'v6')];
  for (const format of ['oci', 'v2s2'] as const) {
    const name = `${reg.host}/multi/${format}:latest`;
    // An attestation-like unknown/unknown entry comes first: it must never be chosen.
    await push(t, name, images, { format, unknownEntry: true });
    t.is(skopeoRaw(name).mediaType, format === 'oci' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json');

    const run = await project(h, `run-${format}`, `FROM ${name}\nRUN cat /arch > /seen\n`);
    t.is(await buildTo(t, h, run)('seen'), 'amd64\n');

    // No RUN for foreign platforms: their binaries cannot execute here.
    const plain = await project(h, `plain-${format}`, `FROM ${name}\n`);
    t.is(await buildTo(t, h, plain, ['--platform', 'linux/arm64'])('arch'), 'arm64\n');
    t.is(await buildTo(t, h, plain, ['--platform', 'linux/arm64/v8'])('arch'), 'arm64\n');
    // arm/v7 can run arm/v6 images: the closest older variant is taken, as containerd does.
    t.is(await buildTo(t, h, plain, ['--platform', 'linux/arm/v7'])('arch'), 'arm\n');

    const staged = await project(h, `staged-${format}`, `FROM --platform=linux/arm64 ${name} AS other\nFROM ${name}\nCOPY --from=other /arch /other-arch\nRUN cat /arch /other-arch > /seen\n`);
    t.is(await buildTo(t, h, staged)('seen'), 'amd64\narm64\n');

    const missing = h.run(['--debug', 'build', '--platform', 'linux/s390x', plain]);
    t.not(missing.status, 0);
    t.is(codeOf(missing.stderr), 'ERR_TSBUILD_REGISTRY_NO_PLATFORM', missing.stderr);
  }
});

test('FROM name@digest and name:tag@digest: the digest decides, an index digest still resolves the platform, and pinned bases rebuild without the registry', async (t) => {
  const reg = await registry(t);
  const h = await createHarness(t, { busybox: false });
  const name = `${reg.host}/pinned/img`;
  await push(t, `${name}:latest`, [await archImage('amd64'), await archImage('arm64', 'v8')]);
  const index = skopeoRaw(`${name}:latest`);
  const arm = index.manifests!.find((m) => m.platform?.architecture === 'arm64')!.digest;

  const byIndex = await project(h, 'by-index', `FROM ${name}@${index.digest}\nRUN cat /arch > /seen\n`);
  t.is(await buildTo(t, h, byIndex)('seen'), 'amd64\n');

  // A tag that does not exist next to a manifest digest: the digest wins, as with docker pull.
  const byManifest = await project(h, 'by-manifest', `FROM ${name}:no-such-tag@${arm}\n`);
  t.is(await buildTo(t, h, byManifest)('arch'), 'arm64\n');

  const unknown = await project(h, 'unknown', `FROM ${name}@sha256:${'0'.repeat(64)}\n`);
  const r = h.run(['--debug', 'build', unknown]);
  t.not(r.status, 0);
  t.is(codeOf(r.stderr), 'ERR_TSBUILD_REGISTRY_NOT_FOUND', r.stderr);

  // With the registry gone, pinned digests whose blobs are all in the store still build; a tag
  // is always resolved against the registry (as BuildKit does), so it cannot.
  await reg.stop();
  const offline = h.run(['build', '--progress=plain', '--no-cache', '-o', `type=local,dest=${path.join(h.tmp, 'offline')}`, byIndex]);
  t.is(offline.status, 0, offline.stderr);
  t.regex(offline.stderr, /all blobs in the store/);
  t.is(await readFile(path.join(h.tmp, 'offline', 'seen'), 'utf8'), 'amd64\n');
  t.is(await buildTo(t, h, byManifest, ['--no-cache'])('arch'), 'arm64\n');
  const byTag = await project(h, 'by-tag', `FROM ${name}:latest\n`);
  const tagged = h.run(['--debug', 'build', byTag]);
  t.not(tagged.status, 0);
  t.is(codeOf(tagged.stderr), 'ERR_TSBUILD_REGISTRY_HTTP', tagged.stderr);
});

test('layers download concurrently and a layer shared by two base images is fetched and stored once', async (t) => {
  const reg = await registry(t);
  const h = await createHarness(t, { busybox: false });
  const bb = await busyboxLayer();
  const wide: PlatformImage = { platform: { os: 'linux', architecture: 'amd64' }, layers: [bb] };
  for (let i = 1; i <= 4; i++) wide.layers.push({ tar: await tarOf({ [`l${i}`]: randomFile(256 * 1024) }) });
  await push(t, `${reg.host}/dedup/wide:1`, [wide]);
  await push(t, `${reg.host}/dedup/other:1`, [await archImage('amd64')]);
  const layers = skopeoRaw(`${reg.host}/dedup/wide:1`).layers!.map((l) => l.digest);
  const shared = layers[0]!;
  t.true(skopeoRaw(`${reg.host}/dedup/other:1`).layers!.some((l) => l.digest === shared));

  // The proxy answers blob downloads after a delay, so downloads in flight together are visible.
  const proxy = await startFaultProxy(reg.host, { latencyMs: 300 });
  t.teardown(() => proxy.stop());
  const dir = await project(h, 'two-bases', `FROM ${proxy.host}/dedup/wide:1 AS wide\nFROM ${proxy.host}/dedup/other:1\nCOPY --from=wide /l1 /l4 /\nRUN cat /arch > /seen\n`);
  const out = path.join(h.tmp, 'out');
  const r = await h.runAsync(['build', '--progress=plain', '-o', `type=local,dest=${out}`, dir]);
  t.is(r.status, 0, r.stderr);
  t.is(await readFile(path.join(out, 'seen'), 'utf8'), 'amd64\n');
  t.true(proxy.hits.maxConcurrentBlobGets >= 2, `at most ${proxy.hits.maxConcurrentBlobGets} blob downloads at once`);

  const gets = new Map<string, number>();
  for (const e of proxy.log) {
    const m = e.method === 'GET' && /\/blobs\/(sha256:[a-f0-9]{64})/.exec(e.url);
    if (m) gets.set(m[1]!, (gets.get(m[1]!) ?? 0) + 1);
  }
  t.is(gets.get(shared), 1, 'the shared layer is downloaded once');
  t.true([...gets.values()].every((n) => n === 1), JSON.stringify([...gets]));
  const stored = await readdir(path.join(h.root, 'content', 'blobs', 'sha256'));
  t.is(stored.filter((f) => f === shared.slice(7)).length, 1);
  t.true(layers.every((l) => stored.includes(l.slice(7))));
});
