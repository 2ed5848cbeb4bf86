import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile, link } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { createContentStore } from '../../src/cache/index.js';
import { cleanupStaleBuildDirs, cleanupStaleMounts, createLayerFromOverlayUpper, createSnapshotter, unpackLayer, writeLayerToStore } from '../../src/snapshot/index.js';

async function tmp(t: import('ava').ExecutionContext, name = 'snap'): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), `tsbuild-${name}-`));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function tarOf(entries: Array<{ name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; body?: string; linkname?: string; mode?: number }>): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.type === 'file' || e.type === undefined) p.entry({ name: e.name, mode: e.mode ?? 0o644, mtime: new Date(0) }, e.body ?? '');
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname ?? '', mode: e.mode ?? 0o755, mtime: new Date(0) });
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const from = (b: Buffer) => Readable.from([b]);

async function listTar(stream: AsyncIterable<Uint8Array>): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  const out = execFileSync('tar', ['-tv', '--numeric-owner'], { input: Buffer.concat(chunks), encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const f = l.split(/\s+/);
    return `${f[0]![0]} ${f.slice(5).join(' ')}`;
  });
}

const MALICIOUS: Array<[string, Parameters<typeof tarOf>[0]]> = [
  ['dot-dot entry', [{ name: '../evil', body: 'x' }]],
  ['nested dot-dot', [{ name: 'a/../../evil', body: 'x' }]],
  ['absolute path', [{ name: '/tmp/evil-abs', body: 'x' }]],
  ['relative symlink escape then write through it', [{ name: 'esc', type: 'symlink', linkname: '../../../../../../tmp' }, { name: 'esc/pwned', body: 'x' }]],
  ['hardlink to outside', [{ name: 'hl', type: 'link', linkname: '../../../../etc/passwd' }]],
];
for (const [name, entries] of MALICIOUS) {
  test(`refuses a malicious layer: ${name}`, async (t) => {
    const root = await tmp(t);
    const dest = path.join(root, 'dest');
    const before = await readdir(root);
    const err = await t.throwsAsync(unpackLayer(from(await tarOf(entries)), dest));
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_LAYER_UNSAFE');
    t.deepEqual(await readdir(root), [...before, 'dest'].sort());
    t.false(existsSync('/tmp/pwned'));
    t.false(existsSync('/tmp/evil-abs'));
  });
}

test('an absolute symlink parent is resolved inside the root (chroot semantics), never on the host', async (t) => {
  const root = await tmp(t);
  const outside = path.join(root, 'outside');
  await mkdir(outside);
  const dest = path.join(root, 'dest');
  await unpackLayer(from(await tarOf([{ name: 'x', type: 'symlink', linkname: outside }, { name: 'x/pwned', body: 'inside' }])), dest);
  t.deepEqual(await readdir(outside), []);
  t.is(await readFile(path.join(dest, outside, 'pwned'), 'utf8'), 'inside');
});

test('non-tar input is a format error', async (t) => {
  const dest = path.join(await tmp(t), 'd');
  const err = await t.throwsAsync(unpackLayer(from(Buffer.from('definitely not a tar archive, just some text that is long enough to be read as a header block'.repeat(8))), dest));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_LAYER_FORMAT');
});

test('whiteouts: RUN-style deletes and a replaced directory on a real overlay give BuildKit\'s entries', async (t) => {
  const root = await tmp(t);
  const snaps = createSnapshotter(root);
  const store = createContentStore(root);
  const baseTar = await tarOf([
    { name: 'a/', type: 'directory' },
    { name: 'a/file', body: 'gone' },
    { name: 'a/keep', body: 'kept' },
    { name: 'd/', type: 'directory' },
    { name: 'd/x', body: 'x' },
    { name: 'd/y', body: 'y' },
  ]);
  const baseInfo = await store.writeBytes(baseTar);
  const { diffId } = await unpackLayer(from(baseTar), path.join(root, 'probe'));
  const lower = await snaps.ensureLayer(diffId, () => store.openRead(baseInfo.digest));
  const active = await snaps.prepare([lower]);
  const merged = path.join(active.dir, 'merged');
  const unmount = await snaps.mount(active, merged);
  try {
    // What `RUN rm /a/file && rm -rf /d && mkdir /d && touch /d/z && echo n > /new` does.
    await rm(path.join(merged, 'a/file'));
    await rm(path.join(merged, 'd'), { recursive: true });
    await mkdir(path.join(merged, 'd'));
    await writeFile(path.join(merged, 'd/z'), '');
    await writeFile(path.join(merged, 'new'), 'n\n');
  } finally {
    await unmount();
  }
  const entries = await listTar(createLayerFromOverlayUpper(active.upper));
  // Docker 26's BuildKit, same steps on a base with the same tree, exported with docker save:
  // a/  a/.wh.file  d/  d/.wh..wh..opq  d/z  etc/  new — its etc/ comes from the /etc/hosts and
  // /etc/resolv.conf mount points BuildKit adds; our sandbox leaves no such trace.
  t.deepEqual(entries, ['d a/', '- a/.wh.file', 'd d/', '- d/.wh..wh..opq', '- d/z', '- new']);

  // Flattening base + diff with merge-mode unpack gives the merged view.
  const flat = path.join(root, 'flat');
  await unpackLayer(from(baseTar), flat);
  const layer = await writeLayerToStore(store, createLayerFromOverlayUpper(active.upper), 'gzip');
  await unpackLayer(store.openRead(layer.digest), flat);
  const listing = execFileSync('find', ['.', '-mindepth', '1'], { cwd: flat, encoding: 'utf8' }).trim().split('\n').sort();
  t.deepEqual(listing, ['./a', './a/keep', './d', './d/z', './new']);
  t.is(await readFile(path.join(flat, 'a/keep'), 'utf8'), 'kept');
  await active.dispose();
});

test('a layer dir listed twice (two steps with the same diff) still mounts, read-write and read-only', async (t) => {
  const root = await tmp(t);
  const snaps = createSnapshotter(root);
  const store = createContentStore(root);
  const emptyTar = await tarOf([]);
  const baseTar = await tarOf([{ name: 'a/', type: 'directory' }, { name: 'a/f', body: 'base' }]);
  const [e, b] = [await store.writeBytes(emptyTar), await store.writeBytes(baseTar)];
  const emptyDir = await snaps.ensureLayer((await unpackLayer(from(emptyTar), path.join(root, 'p1'))).diffId, () => store.openRead(e.digest));
  const baseDir = await snaps.ensureLayer((await unpackLayer(from(baseTar), path.join(root, 'p2'))).diffId, () => store.openRead(b.digest));
  // base, then `RUN true`, then `RUN true` again: the empty layer twice (overlayfs said ELOOP).
  const active = await snaps.prepare([emptyDir, emptyDir, baseDir], 'overlay');
  // The sandbox mounts active.lower itself, so it must be free of repeats too.
  t.deepEqual(active.lower, [emptyDir, baseDir]);
  const merged = path.join(active.dir, 'merged');
  const unmount = await snaps.mount(active, merged);
  try {
    t.is(await readFile(path.join(merged, 'a/f'), 'utf8'), 'base');
  } finally {
    await unmount();
  }
  await active.dispose();
  const ro = path.join(root, 'ro');
  const release = await snaps.mountReadOnly([emptyDir, baseDir, emptyDir], ro);
  try {
    t.is(await readFile(path.join(ro, 'a/f'), 'utf8'), 'base');
  } finally {
    await release();
  }
});

test('round trip keeps modes, owners, symlinks, hardlinks, fifos and devices; bytes are deterministic', async (t) => {
  const root = await tmp(t);
  const src = path.join(root, 'src');
  await mkdir(path.join(src, 'dir'), { recursive: true });
  await writeFile(path.join(src, 'dir/exec'), '#!/bin/sh\n', { mode: 0o4755 });
  execFileSync('chown', ['1234:5678', path.join(src, 'dir/exec')]);
  execFileSync('chmod', ['4755', path.join(src, 'dir/exec')]);
  await symlink('/bin/busybox', path.join(src, 'sh'));
  await link(path.join(src, 'dir/exec'), path.join(src, 'hard'));
  execFileSync('mkfifo', [path.join(src, 'fifo')]);
  execFileSync('mknod', [path.join(src, 'null'), 'c', '1', '3']);
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', path.join(src, 'dir/exec')]);
  const bytes = async () => {
    const chunks: Buffer[] = [];
    for await (const c of createLayerFromOverlayUpper(src, { sourceDateEpoch: 1_000_000 })) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  };
  const a = await bytes();
  t.deepEqual(a, await bytes());
  const out = path.join(root, 'out');
  await unpackLayer(from(a), out);
  const st = await lstat(path.join(out, 'dir/exec'));
  t.is(st.mode & 0o7777, 0o4755);
  t.is(st.uid, 1234);
  t.is(st.gid, 5678);
  t.is(st.mtimeMs, 1_000_000_000);
  t.is(await readlink(path.join(out, 'sh')), '/bin/busybox');
  t.is((await lstat(path.join(out, 'hard'))).ino, st.ino);
  t.true((await lstat(path.join(out, 'fifo'))).isFIFO());
  t.is((await lstat(path.join(out, 'null'))).rdev, (await lstat('/dev/null')).rdev);
  t.is(execFileSync('getfattr', ['--only-values', '-n', 'user.note', path.join(out, 'dir/exec')], { encoding: 'utf8' }), 'hello');
});

test('stale mounts under the state root are cleaned up; mounts of a live build sharing the root are not', async (t) => {
  const root = await tmp(t);
  const snaps = createSnapshotter(root);
  // Live: this process owns it (another build sharing the root is starting up).
  const live = await snaps.prepare([]);
  const liveTarget = path.join(live.dir, 'merged');
  const unmountLive = await snaps.mount(live, liveTarget);
  t.teardown(() => unmountLive());
  // Stale: a snapshot dir named for a process that has exited, with its mount left behind.
  const dead = spawnSync('true').pid!;
  const staleDir = path.join(root, 'snapshots', 'active', `${dead}-0123456789abcdef`);
  await mkdir(path.join(staleDir, 'merged'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(staleDir, 'merged')]);
  const mounted = async (p: string) => (await readFile('/proc/self/mountinfo', 'utf8')).includes(p);
  t.true(await mounted(liveTarget));
  t.true(await mounted(staleDir));
  t.is(await cleanupStaleMounts(root), 1);
  t.false(await mounted(staleDir));
  t.true(await mounted(liveTarget), 'a live build keeps its mount');
  // The dead build's snapshot dir goes when a snapshotter starts; the live one stays.
  await createSnapshotter(root).prepare([]).then((a) => a.dispose());
  t.false(existsSync(staleDir));
  t.true(existsSync(live.dir));
});

test('the scratch dir of a killed build is unmounted and removed by the next build; a live one is left alone', async (t) => {
  const parent = await tmp(t, 'scratch-parent');
  const dead = spawnSync('true').pid!;
  const staleMount = path.join(parent, `tsbuild-build-${dead}-AbC123`, 'tsbuild-mnt-XyZ789');
  const liveMount = path.join(parent, `tsbuild-build-${process.pid}-DeF456`, 'tsbuild-mnt-UvW012');
  for (const m of [staleMount, liveMount]) {
    await mkdir(m, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', m]);
  }
  t.teardown(() => void spawnSync('umount', [liveMount]));
  await mkdir(path.join(parent, 'tsbuild-build-unrelated'));
  t.is(await cleanupStaleBuildDirs(parent), 1);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  t.false(info.includes(staleMount));
  t.false(existsSync(path.dirname(staleMount)));
  t.true(info.includes(liveMount));
  t.true(existsSync(path.join(parent, 'tsbuild-build-unrelated')), 'a name without an owner pid is not ours to judge');
});

test('a layer tar lets the event loop run while it reads files, and its bytes do not depend on the pauses', async (t) => {
  const dir = await tmp(t, 'slices');
  // Small files: the whole tar is far below one 1 MiB chunk, so only a pause lets other work in.
  for (let d = 0; d < 20; d++) {
    await mkdir(path.join(dir, `d${d}`));
    await Promise.all(Array.from({ length: 150 }, (_, f) => writeFile(path.join(dir, `d${d}`, `f${f}`), `file ${d}/${f}\n`)));
  }
  const read = async (): Promise<{ bytes: Buffer; turns: number }> => {
    // Counts event-loop turns (setImmediate callbacks) while the tar is made.
    let turns = 0;
    let done = false;
    const tick = (): void => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    const chunks: Buffer[] = [];
    const started = Date.now();
    setImmediate(tick);
    for await (const c of createLayerFromOverlayUpper(dir)) chunks.push(Buffer.from(c as Buffer));
    done = true;
    t.log(`3,000 files: ${Date.now() - started} ms, ${turns} turns`);
    return { bytes: Buffer.concat(chunks), turns };
  };
  const a = await read();
  const b = await read();
  // Reading 3,000 files takes several 4 ms slices (65-110 ms on the CI machine); without pauses,
  // getfattr's reply is the only turn the loop gets between the walk and the end of the archive.
  t.true(a.turns >= 2 && b.turns >= 2, `${a.turns} and ${b.turns} turns`);
  t.true(a.bytes.equals(b.bytes));
  t.is((await listTar(Readable.from([a.bytes]))).filter((l) => l.startsWith('-')).length, 3000);
});
