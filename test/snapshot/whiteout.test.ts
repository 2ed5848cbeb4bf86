import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { createLayerFromOverlayUpper, createSnapshotter, mergeLayersTo, overlayMountOptions, overlaySupported, unpackLayer } from '../../src/snapshot/index.js';

async function tmp(t: import('ava').ExecutionContext): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-wh-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function baseTar(): Promise<Buffer> {
  const p = pack();
  const t0 = new Date(1_600_000_000_000);
  p.entry({ name: 'a/', type: 'directory', mode: 0o755, mtime: t0 });
  p.entry({ name: 'a/file', mode: 0o644, mtime: t0 }, 'gone\n');
  p.entry({ name: 'a/keep', mode: 0o644, mtime: t0 }, 'kept\n');
  p.entry({ name: 'd/', type: 'directory', mode: 0o755, mtime: t0 });
  p.entry({ name: 'd/x', mode: 0o644, mtime: t0 }, 'x\n');
  p.entry({ name: 'd/y', mode: 0o644, mtime: t0 }, 'y\n');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function bytesOf(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** GNU tar's view of a layer: type+mode, owner, mtime year, name. Also proves GNU tar reads it. */
function gnuList(tar: Buffer): string[] {
  const out = execFileSync('tar', ['-tv', '--numeric-owner', '--full-time'], { input: tar, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const f = l.split(/\s+/);
    return `${f[0]} ${f[1]} ${f[3]!.slice(0, 4) === '1970' ? 'epoch' : 'now'} ${f.slice(5).join(' ')}`;
  });
}

/** A tree's shape (no dir mtimes, which legitimately differ): path, type, mode, owner, size, target. */
function treeOf(dir: string): string[] {
  const lines = execFileSync('find', ['.', '-mindepth', '1', '-printf', '%P|%y|%m|%U:%G|%s|%l\\n'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
  // A directory's st_size depends on the filesystem, not on the tree.
  return lines.map((l) => l.split('|')).map((f) => (f[1] === 'd' ? [...f.slice(0, 4), '-', f[5]] : f).join('|')).sort();
}

// `RUN rm /a/file && rm -rf /d && mkdir /d && touch /d/z && echo n > /new`, through node fs.
async function runStep(root: string): Promise<void> {
  await rm(path.join(root, 'a/file'));
  await rm(path.join(root, 'd'), { recursive: true });
  await mkdir(path.join(root, 'd'), { mode: 0o755 });
  await writeFile(path.join(root, 'd/z'), '', { mode: 0o644 });
  await writeFile(path.join(root, 'new'), 'n\n', { mode: 0o644 });
}

// Recorded once by hand from Docker 26 / BuildKit 0.13 (docker save of the same Dockerfile over
// busybox, `tar -tv` of the RUN layer), minus its `etc/` entry (BuildKit's /etc/hosts and
// /etc/resolv.conf mount stubs, which our sandbox does not leave behind):
//   drwxr-xr-x 0/0 a/ | -rw------- 0/0 a/.wh.file | drwxr-xr-x 0/0 d/
//   -rwxr-xr-x 0/0 1970-01-01 d/.wh..wh..opq | -rw-r--r-- 0/0 d/z | -rw-r--r-- 0/0 new
const BUILDKIT_ENTRIES = [
  'drwxr-xr-x 0/0 now a/',
  '-rw------- 0/0 now a/.wh.file',
  'drwxr-xr-x 0/0 now d/',
  '-rwxr-xr-x 0/0 epoch d/.wh..wh..opq',
  '-rw-r--r-- 0/0 now d/z',
  '-rw-r--r-- 0/0 now new',
];

test('overlay and copy snapshots: BuildKit whiteout entries, and every flattening agrees with the overlay view', async (t) => {
  t.true(await overlaySupported());
  const root = await tmp(t);
  const snaps = createSnapshotter(root);
  const base = await baseTar();
  const probe = await unpackLayer(Readable.from([base]), path.join(root, 'probe'));
  const lower = await snaps.ensureLayer(probe.diffId, () => Readable.from([base]));

  // Overlay path.
  const ov = await snaps.prepare([lower], 'overlay');
  t.is(ov.mountOptions, overlayMountOptions([lower], ov.upper, ov.work));
  const merged = path.join(ov.dir, 'merged');
  const release = await snaps.mount(ov, merged);
  try {
    await runStep(merged);
  } finally {
    await release();
  }
  const ovTar = await bytesOf(ov.diff());
  t.deepEqual(gnuList(ovTar), BUILDKIT_ENTRIES);

  // The overlay's own merged view, read-only, of base + the step's upper.
  const stepDiff = await unpackLayer(Readable.from([ovTar]), path.join(root, 'probe2'));
  const stepLayer = await snaps.ensureLayer(stepDiff.diffId, () => Readable.from([ovTar]));
  const view = path.join(root, 'view');
  const releaseView = await snaps.mountReadOnly([stepLayer, lower], view);
  let expected: string[];
  try {
    expected = treeOf(view);
  } finally {
    await releaseView();
  }
  t.deepEqual(expected, ['a/keep|f|644|0:0|5|', 'a|d|755|0:0|-|', 'd/z|f|644|0:0|0|', 'd|d|755|0:0|-|', 'new|f|644|0:0|2|']);

  // Merge-mode flattening of base + overlay diff.
  const flat = path.join(root, 'flat');
  await unpackLayer(Readable.from([base]), flat, { mode: 'merge' });
  await unpackLayer(Readable.from([ovTar]), flat, { mode: 'merge' });
  t.deepEqual(treeOf(flat), expected);
  t.is(await readFile(path.join(flat, 'a/keep'), 'utf8'), 'kept\n');

  // mergeLayersTo over the unpacked (overlay-format) layer dirs.
  const merged2 = path.join(root, 'merged2');
  await mergeLayersTo(merged2, [stepLayer, lower]);
  t.deepEqual(treeOf(merged2), expected);

  // Copy-based fallback: same step, tree diff; flattens to the same tree.
  const cp = await snaps.prepare([lower], 'copy');
  const target = path.join(cp.dir, 'rootfs');
  const releaseCp = await snaps.mount(cp, target);
  try {
    await runStep(target);
  } finally {
    await releaseCp();
  }
  const cpTar = await bytesOf(cp.diff());
  // Without overlay's record of "deleted then re-created", /d shows as per-entry changes.
  t.deepEqual(gnuList(cpTar).map((l) => l.split(' ').at(-1)), ['a/', 'a/.wh.file', 'd/', 'd/.wh.x', 'd/.wh.y', 'd/z', 'new']);
  const flat2 = path.join(root, 'flat2');
  await unpackLayer(Readable.from([base]), flat2, { mode: 'merge' });
  await unpackLayer(Readable.from([cpTar]), flat2, { mode: 'merge' });
  t.deepEqual(treeOf(flat2), expected);

  await ov.dispose();
  await cp.dispose();
  t.false((await readFile('/proc/self/mountinfo', 'utf8')).includes(root));
});

test('the xattr form of an overlay whiteout becomes a .wh. entry', async (t) => {
  const upper = await tmp(t);
  await writeFile(path.join(upper, 'gone'), '');
  execFileSync('setfattr', ['-n', 'trusted.overlay.whiteout', '-v', 'y', path.join(upper, 'gone')]);
  await writeFile(path.join(upper, 'kept'), 'k');
  execFileSync('setfattr', ['-n', 'user.k', '-v', 'v', path.join(upper, 'kept')]);
  execFileSync('ln', ['-s', 'kept', path.join(upper, 'link')]);
  const tar = await bytesOf(createLayerFromOverlayUpper(upper));
  const names = gnuList(tar).map((l) => l.split(' ').slice(3).join(' '));
  t.deepEqual(names, ['.wh.gone', 'kept', 'link -> kept']);
  // xattrs belong to the file, not to a symlink pointing at it (tools refuse xattrs on symlinks).
  const out = path.join(upper, 'out');
  await unpackLayer(Readable.from([tar]), out);
  t.regex(execFileSync('getfattr', ['-d', '--absolute-names', path.join(out, 'kept')], { encoding: 'utf8' }), /user\.k="v"/);
  t.is(execFileSync('getfattr', ['-h', '-d', '--absolute-names', path.join(out, 'link')], { encoding: 'utf8' }), '');
});

test('identical trees built at different times give identical bytes with sourceDateEpoch', async (t) => {
  const root = await tmp(t);
  const build = async (dir: string) => {
    await mkdir(path.join(dir, 'etc'), { recursive: true });
    await writeFile(path.join(dir, 'etc/conf'), 'c\n');
    await writeFile(path.join(dir, 'b'), 'b\n');
    execFileSync('ln', [path.join(dir, 'b'), path.join(dir, 'a-hard')]);
    execFileSync('ln', ['-s', 'etc/conf', path.join(dir, 'link')]);
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  };
  await build(path.join(root, 'one'));
  await new Promise((r) => setTimeout(r, 1100));
  await build(path.join(root, 'two'));
  const opts = { sourceDateEpoch: 1_700_000_000 };
  const one = await bytesOf(createLayerFromOverlayUpper(path.join(root, 'one'), opts));
  const two = await bytesOf(createLayerFromOverlayUpper(path.join(root, 'two'), opts));
  t.true(one.equals(two));
  // Without clamping the times differ, so the equality above is not vacuous.
  t.false((await bytesOf(createLayerFromOverlayUpper(path.join(root, 'one')))).equals(await bytesOf(createLayerFromOverlayUpper(path.join(root, 'two')))));
  // The first path in byte order is the file, the later one the link.
  t.deepEqual(gnuList(one).map((l) => l.split(' ').slice(3).join(' ')), ['a-hard', 'b link to a-hard', 'etc/', 'etc/conf', 'fifo', 'link -> etc/conf']);
});

test('too many lower layers for one mount is a clear setup error', async (t) => {
  const root = await tmp(t);
  const snaps = createSnapshotter(root);
  const lowers = Array.from({ length: 600 }, (_, i) => path.join(root, 'snapshots/layers', i.toString(16).padStart(64, '0')));
  const err = await t.throwsAsync(snaps.prepare(lowers, 'overlay'));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_SANDBOX_SETUP');
});

test('ensureLayer: concurrent callers share one unpack, orphans of a killed unpack are removed, a wrong diff_id is refused', async (t) => {
  const root = await tmp(t);
  const base = await baseTar();
  const { diffId } = await unpackLayer(Readable.from([base]), path.join(root, 'probe'));
  // A half-written unpack of a process that no longer exists.
  const orphan = path.join(root, 'snapshots/tmp/999999999-deadbeef');
  await mkdir(path.join(orphan, 'a'), { recursive: true });
  const snaps = createSnapshotter(root);
  let opened = 0;
  const open = () => {
    opened++;
    return Readable.from([base]);
  };
  const [x, y] = await Promise.all([snaps.ensureLayer(diffId, open), snaps.ensureLayer(diffId, open)]);
  t.is(x, y);
  t.is(opened, 1);
  t.is(await readFile(path.join(x, 'a/keep'), 'utf8'), 'kept\n');
  const { readdir } = await import('node:fs/promises');
  t.deepEqual(await readdir(path.join(root, 'snapshots/tmp')), []);
  const wrong = `sha256:${'0'.repeat(64)}` as const;
  const err = await t.throwsAsync(snaps.ensureLayer(wrong, () => Readable.from([base])));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_STORE_CORRUPT');
  t.false(await snaps.hasLayer(wrong));
});

test('the overlay probe is kept in the state root for this kernel, filesystem and user namespace; a stale answer is probed again', async (t) => {
  const root = await tmp(t);
  const marker = path.join(root, 'snapshots', 'overlay-probe');
  const first = await createSnapshotter(root).prepare([]);
  t.is(first.kind, 'overlay');
  await first.dispose();
  const key = await readFile(marker, 'utf8');
  t.true(key.startsWith(`${os.release()}|`), key);
  // Another kernel's answer is not trusted: the next snapshotter probes and writes its own.
  await writeFile(marker, 'some-other-kernel|1|0 0 4294967295\n');
  const second = await createSnapshotter(root).prepare([]);
  t.is(second.kind, 'overlay');
  await second.dispose();
  t.is(await readFile(marker, 'utf8'), key);
});

test('measureLayer gives the exact size of the tar createLayerFromOverlayUpper writes, PAX headers, links and whiteouts included', async (t) => {
  const { measureLayer } = await import('../../src/snapshot/index.js');
  const { link, symlink, utimes } = await import('node:fs/promises');
  const dir = await tmp(t);
  const deep = path.join(dir, 'd'.repeat(90), 'e'.repeat(90));
  await mkdir(deep, { recursive: true });
  await writeFile(path.join(deep, 'f'.repeat(120)), 'long name\n'); // beyond ustar's prefix split
  await writeFile(path.join(dir, 'naïve.txt'), 'non-ASCII name\n');
  await writeFile(path.join(dir, 'big'), Buffer.alloc(1_500_000, 7)); // the streamed-body path
  await writeFile(path.join(dir, 'odd'), 'x'.repeat(513));
  await link(path.join(dir, 'odd'), path.join(dir, 'odd-link'));
  await symlink('t'.repeat(140), path.join(dir, 'long-target'));
  await writeFile(path.join(dir, 'old'), 'before 1970\n');
  await utimes(path.join(dir, 'old'), new Date(-86_400_000), new Date(-86_400_000));
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', path.join(dir, 'naïve.txt')]);
  execFileSync('mknod', [path.join(dir, 'gone'), 'c', '0', '0']);
  await mkdir(path.join(dir, 'opaque'));
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, 'opaque')]);
  for (const options of [{}, { sourceDateEpoch: 1_700_000_000 }]) {
    let written = 0;
    for await (const chunk of createLayerFromOverlayUpper(dir, options)) written += (chunk as Buffer).length;
    t.is(await measureLayer(dir, options), written);
  }
});

test('typeInLayers reads a path through layer dirs: the topmost layer wins, whiteouts hide, symlinks are reported', async (t) => {
  const { typeInLayers } = await import('../../src/snapshot/index.js');
  const { symlink } = await import('node:fs/promises');
  const dir = await tmp(t);
  const [top, bottom] = [path.join(dir, 'top'), path.join(dir, 'bottom')];
  await mkdir(path.join(bottom, 'etc'), { recursive: true });
  await writeFile(path.join(bottom, 'etc', 'hosts'), 'x');
  await writeFile(path.join(bottom, 'etc', 'hostname'), 'x');
  await mkdir(path.join(bottom, 'work', 'app'), { recursive: true });
  await mkdir(path.join(top, 'etc'), { recursive: true });
  execFileSync('mknod', [path.join(top, 'etc', 'hostname'), 'c', '0', '0']);
  await symlink('../run/resolv.conf', path.join(top, 'etc', 'resolv.conf'));
  await writeFile(path.join(top, 'work'), 'a file now');
  const view = [top, bottom];
  t.is(typeInLayers(view, ''), 'dir');
  t.is(typeInLayers(view, 'etc'), 'dir');
  t.is(typeInLayers(view, 'etc/hosts'), 'file', 'from the lower layer');
  t.is(typeInLayers(view, 'etc/hostname'), undefined, 'whited out');
  t.is(typeInLayers(view, 'etc/resolv.conf'), 'symlink');
  t.is(typeInLayers(view, '/work/app'), undefined, 'a file above hides the directory below');
  t.is(typeInLayers([bottom], 'work/app'), 'dir');
  t.is(typeInLayers(view, 'nothing/here'), undefined);
});
