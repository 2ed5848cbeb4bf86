import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { computeWaste, type LayersReport, type ScanEntry } from '../../src/insight/index.js';
import { createHarness } from '../helpers/tsbuild.js';

const f = (p: string, size: number): ScanEntry => ({ path: p, kind: 'file', size });
const d = (p: string): ScanEntry => ({ path: p, kind: 'dir', size: 0 });

test('waste: whiteouts, opaque dirs and overwrites hide lower versions, each counted once', (t) => {
  const r = computeWaste([
    [d('a'), f('a/big', 100), f('a/keep', 1), d('b'), f('b/x', 10), f('b/y', 20), f('c', 5), f('e', 7)],
    [f('a/.wh.big', 0), d('b'), f('b/.wh..wh..opq', 0), f('b/z', 3), d('c'), f('c/in', 2), f('e', 8)],
    [f('.wh.a', 0), f('e', 9)],
  ]);
  const hidden = r.hidden.map((h) => `${h.path}:${h.size}:${h.layer}>${h.by}:${h.reason}`).sort();
  t.deepEqual(hidden, [
    '/a/big:100:0>1:deleted',
    '/a/keep:1:0>2:deleted',
    '/b/x:10:0>1:deleted',
    '/b/y:20:0>1:deleted',
    '/c:5:0>1:overwritten',
    '/e:7:0>1:overwritten',
    '/e:8:1>2:overwritten',
  ]);
  t.deepEqual(r.wastedBytes, [100 + 1 + 10 + 20 + 5 + 7, 8, 0]);
  t.deepEqual(r.removedBytes, [0, 100 + 10 + 20 + 5 + 7, 1 + 8]);
});

test('waste: a file replacing a directory hides its content; an opaque dir keeps its own layer', (t) => {
  const r = computeWaste([[d('x'), f('x/1', 4), f('x/2', 6)], [f('x', 1)], [d('o'), f('o/.wh..wh..opq', 0), f('o/new', 3)]]);
  t.deepEqual(r.hidden.map((h) => h.path).sort(), ['/x/1', '/x/2']);
  t.deepEqual(r.wastedBytes, [10, 0, 0]);
});

test('tsbuild layers: a deleted 5 MB file is waste; JSON is the same by name, from -o type=oci and -o type=docker', async (t) => {
  const h = await createHarness(t);
  const ctx = path.join(h.tmp, 'ctx');
  await mkdir(ctx);
  await writeFile(
    path.join(ctx, 'Dockerfile'),
    [
      'FROM busybox:latest',
      'RUN head -c 5000000 /dev/urandom > /big.bin && echo one > /over.txt',
      'RUN echo two-two > /over.txt',
      'RUN rm /big.bin && echo three-three-three > /over.txt',
      '',
    ].join('\n'),
  );
  h.ok(['build', '-q', '-t', 'waste:1', ctx]);
  const oci = path.join(h.tmp, 'oci.tar');
  const docker = path.join(h.tmp, 'docker.tar');
  h.ok(['build', '-q', '-o', `type=oci,dest=${oci}`, ctx]);
  h.ok(['build', '-q', '-t', 'waste:1', '-o', `type=docker,dest=${docker}`, ctx]);

  const byName = JSON.parse(h.ok(['layers', '--format', 'json', 'waste:1'])) as LayersReport;
  t.is(byName.schemaVersion, 1);
  t.is(byName.layers.length, 4);
  const [, l1, l2, l3] = byName.layers;
  t.regex(l1!.createdBy!, /head -c 5000000/);
  t.regex(l3!.createdBy!, /rm \/big\.bin/);
  t.deepEqual(l1!.largest[0], { path: '/big.bin', size: 5_000_000 });
  t.true(l1!.compressedSize > 4_900_000 && l1!.uncompressedSize > 5_000_000);
  t.is(l1!.files, 2);
  t.is(l3!.deletions, 1);
  // The big file once, and each overwritten /over.txt version once.
  t.deepEqual(byName.wasted[0], { path: '/big.bin', size: 5_000_000, layer: 1, by: 3, reason: 'deleted' });
  t.deepEqual(
    byName.wasted.filter((w) => w.path === '/over.txt').map((w) => [w.layer, w.by, w.size]),
    [
      [2, 3, 8],
      [1, 2, 4],
    ],
  );
  t.is(byName.wastedBytes, 5_000_000 + 4 + 8);
  t.is(l1!.wastedBytes, 5_000_004);
  t.is(l2!.wastedBytes, 8);
  t.is(l3!.removedBytes, 5_000_008);
  t.is(byName.efficiency, (byName.totalBytes - byName.wastedBytes) / byName.totalBytes);
  t.true(byName.efficiency < 0.5);

  // The streamed, decompressed tars hash to the config's diff_ids: every byte was read.
  const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci-archive:${oci}`], { encoding: 'utf8' })) as { rootfs: { diff_ids: string[] } };
  t.deepEqual(
    byName.layers.map((l) => l.diffId),
    config.rootfs.diff_ids,
  );
  // The OCI tarball spells media types the OCI way (the stored image and type=docker use Docker's, as
  // BuildKit does); everything else is the same.
  const ociSpelling = (r: typeof byName) => ({ ...r, layers: r.layers.map((l) => ({ ...l, mediaType: l.mediaType.replace('application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.oci.image.layer.v1.tar+gzip') })) });
  t.deepEqual(JSON.parse(h.ok(['layers', '--format', 'json', oci])), ociSpelling(byName));
  t.deepEqual(JSON.parse(h.ok(['layers', '--format', 'json', docker])), byName);

  // Written by other tools: legacy docker-save (manifest.json only, uncompressed <id>/layer.tar)
  // and zstd layers, both by skopeo from the OCI tarball.
  const legacy = path.join(h.tmp, 'legacy.tar');
  execFileSync('skopeo', ['copy', '-q', `oci-archive:${oci}`, `docker-archive:${legacy}:waste:1`]);
  const fromLegacy = JSON.parse(h.ok(['layers', '--format', 'json', legacy])) as LayersReport;
  t.is(fromLegacy.config, byName.config);
  t.deepEqual(fromLegacy.wasted, byName.wasted);
  t.deepEqual(
    fromLegacy.layers.map((l) => [l.diffId, l.createdBy, l.files, l.wastedBytes, l.compressedSize === l.uncompressedSize, l.mediaType]),
    byName.layers.map((l) => [l.diffId, l.createdBy, l.files, l.wastedBytes, true, 'application/vnd.docker.image.rootfs.diff.tar']),
  );
  const zstd = path.join(h.tmp, 'zstd.tar');
  execFileSync('skopeo', ['copy', '-q', '--dest-compress-format', 'zstd', '--dest-compress', `oci-archive:${oci}`, `oci-archive:${zstd}:waste:1`]);
  const fromZstd = JSON.parse(h.ok(['layers', '--format', 'json', zstd])) as LayersReport;
  t.true(fromZstd.layers.every((l) => l.mediaType.endsWith('+zstd')));
  t.deepEqual(
    fromZstd.layers.map((l) => [l.diffId, l.uncompressedSize, l.wastedBytes, l.largest]),
    byName.layers.map((l) => [l.diffId, l.uncompressedSize, l.wastedBytes, l.largest]),
  );
  t.deepEqual(fromZstd.wasted, byName.wasted);

  const table = h.ok(['layers', 'waste:1']);
  t.regex(table, /Wasted: 5\.0MB/);
  t.regex(table, /5\.0MB\s+\/big\.bin\s+\(layer 1, deleted by layer 3\)/);

  const missing = h.run(['layers', 'nope:1', '--debug']);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /ERR_TSBUILD_IMAGE_NOT_FOUND/);
  const notImage = path.join(h.tmp, 'not-image.tar');
  execFileSync('tar', ['-cf', notImage, '-C', ctx, 'Dockerfile']);
  const bad = h.run(['layers', notImage, '--debug']);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /ERR_TSBUILD_IMAGE_FORMAT/);
});

test('tsbuild layers: a directory removed and re-created (opaque) wastes its old content once, not again when overwritten', async (t) => {
  const h = await createHarness(t);
  const ctx = path.join(h.tmp, 'ctx');
  await mkdir(ctx);
  await writeFile(path.join(ctx, 'f'), 'hello\n');
  await writeFile(
    path.join(ctx, 'Dockerfile'),
    [
      'FROM busybox:latest',
      'RUN mkdir -p /d/sub && head -c 100000 /dev/urandom > /d/sub/a && head -c 3000 /dev/urandom > /d/k',
      'RUN rm -rf /d && mkdir /d && echo x > /d/b',
      'COPY f /d/k',
      '',
    ].join('\n'),
  );
  h.ok(['build', '-q', '-t', 'opaque:1', ctx]);
  const r = JSON.parse(h.ok(['layers', '--format', 'json', '--top', '10', 'opaque:1'])) as LayersReport;
  t.deepEqual(
    r.wasted.map((w) => [w.path, w.size, w.layer, w.by, w.reason]),
    [
      ['/d/sub/a', 100_000, 1, 2, 'deleted'],
      ['/d/k', 3000, 1, 2, 'deleted'],
    ],
  );
  t.is(r.layers[2]!.deletions, 1);
  t.is(r.layers[2]!.removedBytes, 103_000);
  t.is(r.layers[3]!.removedBytes, 0);
  t.is(r.wastedBytes, 103_000);
});
