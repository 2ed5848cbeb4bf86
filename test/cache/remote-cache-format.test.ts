/**
 * The cache artifact documents (docs/cache-format.md), record selection for mode=min|max, and
 * cache keys that do not depend on where or by whom the project is checked out.
 */
import test from 'ava';
import { chown, cp, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContextHasher } from '../../src/context/checksum.js';
import { parseDockerfile } from '../../src/parser/index.js';
import { planBuild } from '../../src/plan/index.js';
import {
  buildCacheConfig,
  buildCacheManifest,
  CACHE_CONFIG_MEDIA_TYPE,
  cacheExportVertices,
  cacheMountIds,
  parseCacheConfig,
  parseCacheManifest,
  pruneLayout,
  type CacheRecordLike,
} from '../../src/remote-cache/index.js';
import { createCacheKeyCalculator } from '../../src/solver/cache-key.js';
import { sha256, type Digest } from '../../src/util/digest.js';

const d = (s: string): Digest => sha256(s);
const layer = (n: string) => ({ diffId: d(`diff-${n}`), blob: d(`blob-${n}`), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: n.length * 100 });

const records: CacheRecordLike[] = [
  { key: d('k2'), layers: [layer('base'), layer('one'), layer('two')], created: '2026-01-01T00:00:00.000Z', name: 'RUN two' },
  { key: d('k1'), layers: [layer('base'), layer('one')], created: '2026-01-01T00:00:00.000Z' },
];

function encode(config: ReturnType<typeof buildCacheConfig>) {
  const configBytes = Buffer.from(JSON.stringify(config));
  const manifest = buildCacheManifest(config, { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256(configBytes), size: configBytes.length });
  return { configBytes, manifestBytes: Buffer.from(JSON.stringify(manifest)) };
}

test('the config lists each layer once, records sorted by key, whatever the input order', (t) => {
  const mount = { id: 'pkgs', mediaType: 'application/vnd.tsbuild.cache.mount.v1.tar+gzip', digest: d('mount'), size: 9 };
  const a = buildCacheConfig(records, [mount]);
  const b = buildCacheConfig([...records].reverse(), [mount]);
  t.deepEqual(a, b);
  t.is(a.layers.length, 3);
  t.deepEqual(a.records.map((r) => r.chain), d('k1') < d('k2') ? [[0, 1], [0, 1, 2]] : [[0, 1, 2], [0, 1]]);
  const { manifestBytes, configBytes } = encode(a);
  const manifest = parseCacheManifest(manifestBytes);
  t.is(manifest.artifactType, 'application/vnd.tsbuild.cache.v1');
  t.deepEqual(manifest.layers.map((l) => l.digest), [...a.layers.map((l) => l.digest), mount.digest]);
  const back = parseCacheConfig(configBytes, manifest);
  t.deepEqual(back, a);
});

test('readers refuse what is not a tsbuild cache, with a code', (t) => {
  const code = (fn: () => unknown) => (t.throws(fn) as { code?: string } | undefined)?.code;
  const config = buildCacheConfig(records, []);
  const { manifestBytes, configBytes } = encode(config);
  const manifest = parseCacheManifest(manifestBytes);
  t.is(code(() => parseCacheManifest(Buffer.from('not json'))), 'ERR_TSBUILD_CACHE_FORMAT');
  const image = JSON.parse(manifestBytes.toString()) as { config: { mediaType: string } };
  image.config.mediaType = 'application/vnd.oci.image.config.v1+json';
  t.is(code(() => parseCacheManifest(Buffer.from(JSON.stringify(image)))), 'ERR_TSBUILD_CACHE_FORMAT');
  const mutate = (fn: (c: Record<string, any>) => void) => {
    const c = JSON.parse(configBytes.toString()) as Record<string, any>;
    fn(c);
    return Buffer.from(JSON.stringify(c));
  };
  t.is(code(() => parseCacheConfig(mutate((c) => (c.version = 2)), manifest)), 'ERR_TSBUILD_CACHE_FORMAT');
  t.is(code(() => parseCacheConfig(mutate((c) => c.records[0].chain.push(99)), manifest)), 'ERR_TSBUILD_CACHE_FORMAT');
  t.is(code(() => parseCacheConfig(mutate((c) => (c.layers[0].digest = d('elsewhere'))), manifest)), 'ERR_TSBUILD_CACHE_FORMAT');
  t.is(code(() => parseCacheConfig(mutate((c) => (c.records[0].key = 'md5:x')), manifest)), 'ERR_TSBUILD_CACHE_FORMAT');
});

const DOCKERFILE = `FROM busybox AS builder
RUN --mount=type=cache,id=gocache,target=/root/.cache echo built > /artifact
FROM busybox
COPY --from=builder /artifact /artifact
COPY app/ /app/
RUN --mount=type=cache,target=/var/cache/apt ls /app
`;

const plan = (text: string) => planBuild({ ast: parseDockerfile(text, { file: 'Dockerfile' }) });

test('mode=min selects the target chain; mode=max every layer step it depends on', async (t) => {
  const g = await plan(DOCKERFILE);
  const names = (mode: 'min' | 'max') => cacheExportVertices(g, mode).map((v) => v.meta.name.replace(/^\[[^\]]*\]\s*/, ''));
  t.deepEqual(names('min').sort(), ['COPY --from=builder /artifact /artifact', 'COPY app/ /app/', 'RUN --mount=type=cache,target=/var/cache/apt ls /app'].sort());
  t.is(names('max').length, 4);
  t.true(names('max').some((n) => n.startsWith('RUN') && n.includes('built')));
  t.deepEqual(cacheMountIds(cacheExportVertices(g, 'min')), ['/var/cache/apt']);
  t.deepEqual(cacheMountIds(cacheExportVertices(g, 'max')), ['/var/cache/apt', 'gocache']);
});

test('cache keys are the same for a copy of the project at another path, owned by another user', async (t) => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-keys-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const a = path.join(tmp, 'a');
  await mkdir(path.join(a, 'app'), { recursive: true });
  await writeFile(path.join(a, 'app', 'main.txt'), 'main\n');
  const b = path.join(tmp, 'elsewhere', 'b');
  await cp(a, b, { recursive: true });
  if (process.getuid?.() === 0) for (const p of [b, path.join(b, 'app'), path.join(b, 'app', 'main.txt')]) await chown(p, 4321, 4321);
  const g = await plan(DOCKERFILE);
  const keysOf = async (dir: string) => {
    const hasher = createContextHasher({ contextDir: dir });
    const calc = createCacheKeyCalculator(g, { localChecksum: async (_s, patterns) => (await hasher.checksum(patterns)).digest });
    const out: Record<string, Digest> = {};
    for (const v of Object.keys(g.vertices) as Digest[]) out[v] = await calc.keyOf(v);
    return out;
  };
  const ka = await keysOf(a);
  t.deepEqual(await keysOf(b), ka);
  // Content does count: an edit changes the COPY and what follows, not the other stage.
  await writeFile(path.join(b, 'app', 'main.txt'), 'edited\n');
  const kb = await keysOf(b);
  const changed = Object.keys(ka).filter((v) => ka[v as Digest] !== kb[v as Digest]).map((v) => g.vertices[v as Digest]!.meta.name.replace(/^\[[^\]]*\]\s*/, ''));
  t.deepEqual(changed.sort(), ['COPY app/ /app/', 'RUN --mount=type=cache,target=/var/cache/apt ls /app'].sort());
});

test('a local cache dir drops blobs no tag reaches any more, but keeps recent ones and other images', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const blobs = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: string | Buffer, old = true): Promise<Digest> => {
    const digest = sha256(data);
    const file = path.join(blobs, digest.slice(7));
    await writeFile(file, data);
    if (old) await utimes(file, new Date(0), new Date(0));
    return digest;
  };
  const desc = async (data: string, old = true) => ({ mediaType: 'x', digest: await put(data, old), size: Buffer.byteLength(data) });
  const kept = await desc('layer kept');
  const shared = await desc('layer shared');
  const gone = await desc('layer gone');
  const fresh = await desc('layer fresh, maybe a concurrent export', false);
  const manifestOf = async (layers: Array<{ digest: Digest }>, old = true) => desc(JSON.stringify({ schemaVersion: 2, config: await desc(`config ${layers.map((l) => l.digest).join(",")}`), layers }), old);
  const current = await manifestOf([kept, shared]);
  await manifestOf([shared, gone]); // the manifest a new export replaced
  // Another image under its own tag, behind a nested index: untouched.
  const other = await manifestOf([await desc('other image layer')]);
  const nested = await desc(JSON.stringify({ schemaVersion: 2, manifests: [other] }));
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [current, nested] }));
  const before = new Set(await readdir(blobs));
  const r = await pruneLayout(dir);
  const after = new Set(await readdir(blobs));
  const removed = [...before].filter((b) => !after.has(b)).map((b) => `sha256:${b}`);
  // gone, the old manifest and its config.
  t.is(r.removed, 3);
  t.true(removed.includes(gone.digest));
  for (const d of [kept, shared, fresh, current, other, nested]) t.true(after.has(d.digest.slice(7)));
  // Without a readable index nothing is deleted.
  await writeFile(path.join(dir, 'index.json'), '{');
  t.deepEqual(await pruneLayout(dir), { removed: 0, bytes: 0 });
});
