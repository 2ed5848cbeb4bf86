import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateRoot, type StateRoot } from '../../src/cache/index.js';
import { assembleImage, exportImage, resolveExporters, type AssembledImage } from '../../src/exporter/index.js';
import { createLayerFromOverlayUpper, writeLayerToStore } from '../../src/snapshot/index.js';
import { createBusyboxRootfs } from '../helpers/busybox-rootfs.js';

const ctx = { signal: new AbortController().signal, progress: { emit() {} } } as never;
const CREATED = new Date('2024-01-02T03:04:05Z');

/** A two-layer image made by hand: a busybox rootfs, then a layer adding /hello. */
async function buildImage(tmp: string): Promise<{ state: StateRoot; image: AssembledImage }> {
  const state = await openStateRoot({ root: path.join(tmp, 'state') });
  const base = await createBusyboxRootfs(path.join(tmp, 'base'));
  const l1 = await writeLayerToStore(state.content, createLayerFromOverlayUpper(base, { sourceDateEpoch: 0 }), 'gzip');
  const add = path.join(tmp, 'add');
  await mkdir(add);
  await writeFile(path.join(add, 'hello'), 'hello from the exporter\n');
  const l2 = await writeLayerToStore(state.content, createLayerFromOverlayUpper(add, { sourceDateEpoch: 0 }), 'gzip');
  const image = await assembleImage(state.content, {
    platform: { os: 'linux', architecture: 'amd64' },
    layers: [l1, l2].map((l) => ({ descriptor: { mediaType: l.mediaType, digest: l.digest, size: l.size }, diffId: l.diffId })),
    history: [{ created_by: 'ADD rootfs /' }, { created_by: 'ENV A=1', empty_layer: true }, { created_by: 'COPY hello /hello' }],
    config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['/bin/sh', '-c', 'cat /hello'] },
    created: CREATED,
  });
  return { state, image };
}

async function tmpdir(t: { teardown(f: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-exporter-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const rootfs = () => Promise.reject(new Error('not needed'));

test('oci export: skopeo reads it with our digest, umoci unpacks the expected files; reproducible bytes', async (t) => {
  const tmp = await tmpdir(t);
  const { state, image } = await buildImage(tmp);
  const config = JSON.parse(image.configBytes.toString()) as { history: Array<Record<string, unknown>>; rootfs: { diff_ids: string[] } };
  t.deepEqual(Object.keys(config), ['architecture', 'config', 'created', 'history', 'os', 'rootfs']);
  t.is(config.history.length, 3);
  t.deepEqual(config.history[1], { created: '2024-01-02T03:04:05Z', created_by: 'ENV A=1', comment: 'buildkit.dockerfile.v0', empty_layer: true });
  t.is(config.rootfs.diff_ids.length, 2);

  const file = path.join(tmp, 'out.oci.tar');
  const [oci] = resolveExporters([`type=oci,dest=${file},name=example.test/hello:v1`], { tags: [] });
  await exportImage(ctx, oci!, { store: state.content, images: state.images, image, rootfs });
  t.deepEqual((await readdir(tmp)).filter((n) => n.includes('.tmp')), [], 'no temp file left');

  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${file}`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
  t.is(inspect.Digest, image.manifest.digest);
  t.is(inspect.Layers.length, 2);

  const layout = path.join(tmp, 'layout');
  await mkdir(layout);
  execFileSync('tar', ['-xf', file, '-C', layout]);
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations: Record<string, string> }> };
  t.deepEqual(index.manifests[0]!.annotations, { 'io.containerd.image.name': 'example.test/hello:v1', 'org.opencontainers.image.ref.name': 'v1' });
  const bundle = path.join(tmp, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
  t.is(await readFile(path.join(bundle, 'rootfs/hello'), 'utf8'), 'hello from the exporter\n');
  t.true((await readdir(path.join(bundle, 'rootfs/bin'))).includes('busybox'));
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { process: { args: string[] } };
  t.deepEqual(spec.process.args, ['/bin/sh', '-c', 'cat /hello']);

  // Same input and created time, a fresh store: byte-identical tarball.
  await mkdir(path.join(tmp, 'again'));
  const again = await buildImage(path.join(tmp, 'again'));
  const file2 = path.join(tmp, 'out2.oci.tar');
  await exportImage(ctx, { ...oci!, dest: file2 }, { store: again.state.content, images: again.state.images, image: again.image, rootfs });
  t.true((await readFile(file)).equals(await readFile(file2)));
});

test('docker export: podman load accepts it and the image runs', async (t) => {
  const tmp = await tmpdir(t);
  const { state, image } = await buildImage(tmp);
  const file = path.join(tmp, 'out.docker.tar');
  const [docker] = resolveExporters([`type=docker,dest=${file}`], { tags: ['tsbuild-exporter-test/hello:1'] });
  await exportImage(ctx, docker!, { store: state.content, images: state.images, image, rootfs });
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' })) as Array<{ RepoTags: string[] }>;
  t.deepEqual(manifest[0]!.RepoTags, ['tsbuild-exporter-test/hello:1']);

  // podman here needs runc, cgroupfs, the file events logger and no network; storage in tmp.
  await writeFile(path.join(tmp, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${tmp}/podman-run"\ngraphroot = "${tmp}/podman-storage"\n`);
  await writeFile(path.join(tmp, 'registries.conf'), 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n');
  await writeFile(path.join(tmp, 'containers.conf'), '[containers]\nnetns = "none"\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const env = { ...process.env, CONTAINERS_CONF: `${tmp}/containers.conf`, CONTAINERS_STORAGE_CONF: `${tmp}/storage.conf`, CONTAINERS_REGISTRIES_CONF: `${tmp}/registries.conf` };
  t.teardown(() => {
    // Unmounts podman's overlay storage before the tmp dir goes.
    spawnSync('podman', ['system', 'reset', '-f'], { env });
  });
  const load = spawnSync('podman', ['load', '-i', file], { env, encoding: 'utf8' });
  t.is(load.status, 0, load.stderr);
  const out = spawnSync('podman', ['run', '--rm', 'tsbuild-exporter-test/hello:1'], { env, encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  t.is(out.stdout, 'hello from the exporter\n');
});

test('type=image records the -t names in the local image store', async (t) => {
  const tmp = await tmpdir(t);
  const { state, image } = await buildImage(tmp);
  for (const e of resolveExporters([], { tags: ['a/b:c', 'example.test/x'] })) {
    await exportImage(ctx, e, { store: state.content, images: state.images, image, rootfs });
  }
  t.is((await state.images.get('docker.io/a/b:c'))?.digest, image.manifest.digest);
  t.is((await state.images.get('example.test/x:latest'))?.digest, image.manifest.digest);
});

test('exporter options are validated before a build, with codes', (t) => {
  const code = (outputs: string[], tags: string[] = []) => (t.throws(() => resolveExporters(outputs, { tags })) as { code?: string } | undefined)?.code;
  t.is(code(['type=oci,dest=x,bogus=1']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(code(['type=oci']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(code(['type=nope,dest=x']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(code(['type=oci,dest=x,compression=lz4']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(code(['type=image']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(code(['type=image,name=a,push=maybe']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  const [local] = resolveExporters(['outdir'], { tags: [] });
  t.like(local, { type: 'local', dest: 'outdir' });
  const [docker] = resolveExporters(['type=docker,dest=-,name=a:b,compression=zstd'], { tags: ['ignored:1'] });
  t.like(docker, { type: 'docker', dest: '-', names: ['a:b'], compression: 'zstd' });
  t.is(code(['type=oci,dest=x,compression=gzip,compression-level=10']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(code(['type=oci,dest=x,oci-mediatypes=yes']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.like(resolveExporters(['type=oci,dest=x,compression=zstd,compression-level=19,force-compression=true'], { tags: [] })[0], { compressionLevel: 19, forceCompression: true, ociMediaTypes: true });
  // Docker media types by default except for type=oci; zstd exists only as an OCI type (as in BuildKit).
  t.like(docker, { ociMediaTypes: true });
  t.like(resolveExporters(['type=docker,dest=x'], { tags: [] })[0], { ociMediaTypes: false });
  t.like(resolveExporters(['type=oci,dest=x'], { tags: [] })[0], { ociMediaTypes: true });
  t.like(resolveExporters([], { tags: ['a'] })[0], { ociMediaTypes: false });
  t.like(resolveExporters(['type=image,name=a,oci-mediatypes=true'], { tags: [] })[0], { ociMediaTypes: true });
  t.deepEqual(resolveExporters([], { tags: [] }), []);
  // --push as in buildx: needs a name, combines only with an image output; type=registry pushes.
  const push = (outputs: string[], tags: string[]) => (t.throws(() => resolveExporters(outputs, { tags, push: true })) as { code?: string } | undefined)?.code;
  t.is(push([], []), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.is(push(['type=oci,dest=x'], ['a']), 'ERR_TSBUILD_EXPORT_OPTIONS');
  t.like(resolveExporters([], { tags: ['a'], push: true })[0], { type: 'image', push: true, names: ['a'] });
  t.like(resolveExporters(['type=image,name=b'], { tags: [], push: true })[0], { type: 'image', push: true, names: ['b'] });
  t.like(resolveExporters(['type=registry'], { tags: ['c'] })[0], { type: 'image', push: true, names: ['c'] });
  t.like(resolveExporters(['type=registry,push=false'], { tags: ['c'] })[0], { push: false });
});

test('assemble: docker media types on request; run config in BuildKit key order; same input, same digest', async (t) => {
  const tmp = await tmpdir(t);
  const state = await openStateRoot({ root: path.join(tmp, 'state') });
  const layer = await state.content.writeBytes('not really a layer');
  const input = {
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    layers: [{ descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }, diffId: layer.digest }],
    history: [{ created_by: 'RUN x' }],
    config: { Shell: ['/bin/sh', '-c'], OnBuild: ['RUN y'], Cmd: ['a'], User: 'u', ArgsEscaped: true, StopSignal: 'SIGTERM' },
    created: CREATED,
  };
  const docker = await assembleImage(state.content, { ...input, mediaTypes: 'docker' });
  const m = JSON.parse(docker.manifestBytes.toString()) as { mediaType: string; config: { mediaType: string }; layers: Array<{ mediaType: string }> };
  t.is(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  t.is(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  t.is(m.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  const c = JSON.parse(docker.configBytes.toString()) as Record<string, Record<string, unknown>>;
  t.deepEqual(Object.keys(c), ['architecture', 'config', 'created', 'history', 'os', 'rootfs', 'variant']);
  t.deepEqual(Object.keys(c['config']!), ['User', 'Cmd', 'StopSignal', 'ArgsEscaped', 'OnBuild', 'Shell']);
  const oci = await assembleImage(state.content, input);
  t.is(JSON.parse(oci.manifestBytes.toString()).mediaType, 'application/vnd.oci.image.manifest.v1+json');
  t.is((await assembleImage(state.content, input)).manifest.digest, oci.manifest.digest);
  t.true(await state.content.has(oci.manifest.digest));
  t.true(await state.content.has(oci.config.digest));
});

test('assemble: empty Cmd/Entrypoint/Env arrays leave no key, as BuildKit omits empty fields (`ENTRYPOINT []`)', async (t) => {
  const tmp = await tmpdir(t);
  const state = await openStateRoot({ root: path.join(tmp, 'state') });
  const image = await assembleImage(state.content, {
    platform: { os: 'linux', architecture: 'amd64' },
    layers: [],
    history: [{ created_by: 'ENTRYPOINT []', empty_layer: true }],
    config: { Entrypoint: [], Cmd: [], Env: ['PATH=/bin'], OnBuild: [], ArgsEscaped: true },
    created: CREATED,
  });
  const c = JSON.parse(image.configBytes.toString()) as { config: Record<string, unknown> };
  t.deepEqual(c.config, { Env: ['PATH=/bin'], ArgsEscaped: true });
});

test('assemble: `author` from MAINTAINER, else the base image\'s, in sorted key position', async (t) => {
  const tmp = await tmpdir(t);
  const state = await openStateRoot({ root: path.join(tmp, 'state') });
  const input = { platform: { os: 'linux', architecture: 'amd64' }, layers: [], history: [], config: {}, created: CREATED };
  const own = JSON.parse((await assembleImage(state.content, { ...input, author: 'Jane' })).configBytes.toString()) as Record<string, unknown>;
  t.is(own['author'], 'Jane');
  t.deepEqual(Object.keys(own).slice(0, 3), ['architecture', 'author', 'config']);
  const base = { config: { author: 'Base Author', rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [] };
  t.is(JSON.parse((await assembleImage(state.content, { ...input, base })).configBytes.toString()).author, 'Base Author');
  t.is(JSON.parse((await assembleImage(state.content, input)).configBytes.toString()).author, undefined);
});

test('assemble: with SOURCE_DATE_EPOCH the image `created` is the epoch even when the base history is newer (as BuildKit)', async (t) => {
  const tmp = await tmpdir(t);
  const state = await openStateRoot({ root: path.join(tmp, 'state') });
  const base = { config: { rootfs: { type: 'layers', diff_ids: [] }, history: [{ created: '2026-01-01T00:00:00Z', created_by: 'base' }] }, layers: [] };
  const c = JSON.parse((await assembleImage(state.content, { platform: { os: 'linux', architecture: 'amd64' }, base, layers: [], history: [{ created_by: 'ENV A=1', empty_layer: true }], config: {}, created: new Date(1700000000 * 1000) })).configBytes.toString());
  t.is(c.created, '2023-11-14T22:13:20Z');
  t.deepEqual(c.history.map((h: { created: string }) => h.created), ['2026-01-01T00:00:00Z', '2023-11-14T22:13:20Z']);
});
