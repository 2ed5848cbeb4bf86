/**
 * Layer compression at export, through the CLI with a real busybox base: compression-level on
 * new layers, force-compression re-encoding existing layers (base image, cached layers), the
 * variant index that keeps rebuilds from recompressing, and reproducible bytes.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness, events, executed, type Harness } from '../helpers/tsbuild.js';

interface Layer {
  mediaType: string;
  digest: string;
  size: number;
  /** The blob's first four bytes, hex. */
  magic: string;
}

const GZIP = '1f8b';
const ZSTD = '28b52ffd';

/** The manifest of the single image in an OCI layout tarball, with each layer's magic bytes. */
async function layersOf(h: Harness, tarball: string): Promise<{ manifestDigest: string; layers: Layer[]; diffIds: string[] }> {
  const dir = path.join(h.tmp, `x-${path.basename(tarball)}-${Date.now()}`);
  await mkdir(dir);
  execFileSync('tar', ['-xf', tarball, '-C', dir]);
  const blob = (d: string) => path.join(dir, 'blobs', 'sha256', d.slice('sha256:'.length));
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const manifestDigest = index.manifests[0]!.digest;
  const manifest = JSON.parse(await readFile(blob(manifestDigest), 'utf8')) as { config: { digest: string }; layers: Array<Omit<Layer, 'magic'>> };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
  const layers = await Promise.all(manifest.layers.map(async (l) => ({ ...l, magic: (await readFile(blob(l.digest))).subarray(0, 4).toString('hex') })));
  return { manifestDigest, layers, diffIds: config.rootfs.diff_ids };
}

const isZstd = (l: Layer) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd' && l.magic === ZSTD;
const isGzip = (l: Layer) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip' && l.magic.startsWith(GZIP);

/** busybox + a compressible file + a RUN: three layers, one of them the base. */
async function project(h: Harness): Promise<string> {
  const ctx = path.join(h.tmp, 'ctx');
  await mkdir(ctx, { recursive: true });
  // ~1 MiB of very repetitive text: its size depends a lot on the compression level.
  await writeFile(path.join(ctx, 'words.txt'), Array.from({ length: 40_000 }, (_, i) => `line ${i % 97} of a compressible file\n`).join(''));
  await writeFile(path.join(ctx, 'b.txt'), 'first\n');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY words.txt /words.txt\nCOPY b.txt /b.txt\nRUN wc -l /words.txt > /count\n');
  return ctx;
}

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

test('force-compression=true re-encodes every layer (base and cached) to zstd; skopeo and umoci read it; a rebuild reuses the converted blobs', async (t) => {
  const h = await createHarness(t);
  const ctx = await project(h);
  const gz = path.join(h.tmp, 'gz.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${gz}`, ctx], { env: EPOCH });
  const before = await layersOf(h, gz);
  t.is(before.layers.length, 4);
  t.true(before.layers.every(isGzip), 'default build: all gzip');

  const zst = path.join(h.tmp, 'zst.tar');
  const r = h.run(['build', '--progress=rawjson', '-o', `type=oci,dest=${zst},compression=zstd,force-compression=true`, ctx], { env: EPOCH });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(executed(r.stderr).filter((n) => n.includes('RUN')), [], 'the rebuild is fully cached');
  const after = await layersOf(h, zst);
  t.true(after.layers.every(isZstd), `every layer zstd: ${JSON.stringify(after.layers.map((l) => [l.mediaType, l.magic]))}`);
  t.deepEqual(after.diffIds, before.diffIds, 'same layer contents, other encoding');
  t.notDeepEqual(after.layers.map((l) => l.digest), before.layers.map((l) => l.digest));
  t.true(events(r.stderr).some((e) => e.type === 'info' && /force-compression: 4 layer/.test(String(e.message))));

  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${zst}`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
  t.is(inspect.Digest, after.manifestDigest);
  t.deepEqual(inspect.Layers, after.layers.map((l) => l.digest));
  // The real zstd tool decodes each blob to exactly its diff_id.
  for (const [i, l] of after.layers.entries()) {
    const tar = execFileSync('sh', ['-c', `tar -xOf "$0" "blobs/sha256/$1" | zstd -dc`, zst, l.digest.slice('sha256:'.length)], { maxBuffer: 64 << 20 });
    t.is(`sha256:${createHash('sha256').update(tar).digest('hex')}`, after.diffIds[i]!);
  }
  // umoci 0.4 (Debian 12) predates zstd layers: skopeo decodes ours and hands umoci gzip.
  const layout = path.join(h.tmp, 'layout');
  execFileSync('skopeo', ['copy', '-q', '--dest-compress', '--dest-compress-format', 'gzip', `oci-archive:${zst}`, `oci:${layout}:img`]);
  const bundle = path.join(h.tmp, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:img`, bundle], { stdio: 'pipe' });
  t.is((await readFile(path.join(bundle, 'rootfs', 'count'), 'utf8')).trim(), '40000 /words.txt');
  t.true((await readFile(path.join(bundle, 'rootfs', 'words.txt'), 'utf8')).startsWith('line 0 of a compressible file\n'));

  // The variant index remembers the conversions: the same export again re-encodes nothing, same bytes.
  const index = JSON.parse(await readFile(path.join(h.root, 'cache', 'compression-variants.json'), 'utf8')) as Record<string, { blob: string }>;
  // (It also holds the gzip blobs the first export made of the new layers, which are stored uncompressed.)
  t.deepEqual(Object.entries(index).filter(([k]) => k.endsWith(' zstd default')).map(([, v]) => v.blob).sort(), after.layers.map((l) => l.digest).sort());
  const again = path.join(h.tmp, 'zst2.tar');
  const r2 = h.run(['build', '--progress=rawjson', '-o', `type=oci,dest=${again},compression=zstd,force-compression=true`, ctx], { env: EPOCH });
  t.is(r2.status, 0, r2.stderr);
  t.false(events(r2.stderr).some((e) => e.type === 'info' && /force-compression/.test(String(e.message))), 'nothing re-encoded on a no-op rebuild');
  t.true((await readFile(again)).equals(await readFile(zst)), 'byte-identical tarball');

  // A variant whose blob was pruned is made again instead of pointing at nothing.
  const first = after.layers[0]!.digest.slice('sha256:'.length);
  execFileSync('rm', [path.join(h.root, 'content', 'blobs', 'sha256', first)]);
  const third = path.join(h.tmp, 'zst3.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${third},compression=zstd,force-compression=true`, ctx], { env: EPOCH });
  t.true((await readFile(third)).equals(await readFile(zst)));
});

test('without force-compression, the base and cached layers keep gzip and only new layers are zstd (BuildKit rule); uncompressed forces too', async (t) => {
  const h = await createHarness(t);
  const ctx = await project(h);
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${path.join(h.tmp, 'gz.tar')}`, ctx]);
  await writeFile(path.join(ctx, 'b.txt'), 'second\n');
  const mixed = path.join(h.tmp, 'mixed.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${mixed},compression=zstd`, ctx]);
  const { layers } = await layersOf(h, mixed);
  t.deepEqual(
    layers.map((l) => (isGzip(l) ? 'gzip' : isZstd(l) ? 'zstd' : `? ${l.mediaType} ${l.magic}`)),
    ['gzip', 'gzip', 'zstd', 'zstd'],
    'base, cached COPY words.txt, then the re-run COPY b.txt and RUN',
  );

  const plain = path.join(h.tmp, 'plain.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${plain},compression=uncompressed,force-compression=true`, ctx]);
  const raw = await layersOf(h, plain);
  t.true(raw.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar'));
  // An uncompressed blob is the tar itself: its digest is its diff_id.
  t.deepEqual(raw.layers.map((l) => l.digest), raw.diffIds);
  execFileSync('skopeo', ['inspect', `oci-archive:${plain}`], { stdio: 'pipe' });
});

test('compression-level: gzip 0 and 9 give very different new layers; forced zstd levels are separate variants', async (t) => {
  const h = await createHarness(t);
  const ctx = await project(h);
  const wordsLayer = async (file: string) => (await layersOf(h, file)).layers[1]!;
  const l0 = path.join(h.tmp, 'l0.tar');
  const l9 = path.join(h.tmp, 'l9.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${l0},compression=gzip,compression-level=0`, ctx]);
  // --no-cache: a cached layer keeps the blob it was made with, whatever the level.
  h.ok(['build', '--progress=plain', '--no-cache', '-o', `type=oci,dest=${l9},compression=gzip,compression-level=9`, ctx]);
  const [w0, w9] = [await wordsLayer(l0), await wordsLayer(l9)];
  t.true(isGzip(w0) && isGzip(w9));
  t.true(w0.size > 1_000_000, `level 0 stores: ${w0.size}`);
  t.true(w9.size * 20 < w0.size, `level 9 compresses: ${w9.size} vs ${w0.size}`);

  const z1 = path.join(h.tmp, 'z1.tar');
  const z19 = path.join(h.tmp, 'z19.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${z1},compression=zstd,compression-level=1,force-compression=true`, ctx]);
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${z19},compression=zstd,compression-level=19,force-compression=true`, ctx]);
  const [a, b] = [await layersOf(h, z1), await layersOf(h, z19)];
  t.true(a.layers.every(isZstd) && b.layers.every(isZstd));
  t.deepEqual(a.diffIds, b.diffIds);
  t.true(b.layers[0]!.size < a.layers[0]!.size, `busybox layer: level 19 ${b.layers[0]!.size} < level 1 ${a.layers[0]!.size}`);
  const index = JSON.parse(await readFile(path.join(h.root, 'cache', 'compression-variants.json'), 'utf8')) as Record<string, unknown>;
  t.true(Object.keys(index).some((k) => k.endsWith(' zstd 1')) && Object.keys(index).some((k) => k.endsWith(' zstd 19')));
});

test('reproducible: force-compressed zstd exports are byte-identical across fresh state roots with SOURCE_DATE_EPOCH', async (t) => {
  const out: Buffer[] = [];
  for (const n of [1, 2]) {
    const h = await createHarness(t);
    const ctx = await project(h);
    const file = path.join(h.tmp, `r${n}.tar`);
    h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${file},compression=zstd,force-compression=true,rewrite-timestamp=true`, ctx], { env: EPOCH });
    out.push(await readFile(file));
  }
  t.true(out[0]!.equals(out[1]!));
});
