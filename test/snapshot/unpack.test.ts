import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { unpackLayer } from '../../src/snapshot/index.js';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; body?: string; linkname?: string };

async function tmp(t: import('ava').ExecutionContext): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-unpack-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.type === 'file' || e.type === undefined) p.entry({ name: e.name, mode: 0o644, mtime: new Date(0) }, e.body ?? '');
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname ?? '', mode: 0o755, mtime: new Date(0) });
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const from = (b: Buffer) => Readable.from([b]);

// Each case gets a sibling "victim" dir next to dest; whatever the layer does, the victim and
// everything else outside dest must stay as it was.
const ESCAPES: Array<[string, (victim: string) => Entry[]]> = [
  ['whiteout naming the parent (.wh..)', () => [{ name: 'a/', type: 'directory' }, { name: 'a/.wh..', body: '' }]],
  ['whiteout naming the grandparent (.wh...)', () => [{ name: 'a/b/', type: 'directory' }, { name: 'a/b/.wh...', body: '' }]],
  ['empty whiteout name (.wh.)', () => [{ name: '.wh.', body: '' }]],
  ['symlink chain climbing out', () => [{ name: 'one', type: 'symlink', linkname: 'two/../..' }, { name: 'two', type: 'symlink', linkname: '../..' }, { name: 'one/victim/pwned', body: 'x' }]],
  ['hardlink through a relative escaping symlink', () => [{ name: 's', type: 'symlink', linkname: '../victim' }, { name: 'h', type: 'link', linkname: 's/keep' }]],
  ['absolute hardlink target', () => [{ name: 'pw', type: 'link', linkname: '/etc/passwd' }]],
  ['whiteout through an escaping symlink', () => [{ name: 's', type: 'symlink', linkname: '../victim' }, { name: 's/.wh.keep', body: '' }]],
];

for (const [name, entries] of ESCAPES) {
  test(`unsafe layer refused, nothing outside touched: ${name}`, async (t) => {
    const root = await tmp(t);
    const victim = path.join(root, 'victim');
    await mkdir(victim);
    await writeFile(path.join(victim, 'keep'), 'precious');
    const dest = path.join(root, 'dest');
    await mkdir(dest);
    await writeFile(path.join(dest, 'lower'), 'lower');
    const err = await t.throwsAsync(unpackLayer(from(await tarOf(entries(victim))), dest, { mode: 'merge' }));
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_LAYER_UNSAFE');
    t.deepEqual((await readdir(root)).sort(), ['dest', 'victim']);
    t.deepEqual(await readdir(victim), ['keep']);
    t.is(await readFile(path.join(victim, 'keep'), 'utf8'), 'precious');
    t.true(existsSync(path.join(dest, 'lower')));
  });
}

test('compression: auto-detects gzip and zstd, explicit modes work, diff_id is the raw tar sha256', async (t) => {
  const root = await tmp(t);
  const raw = await tarOf([{ name: 'f', body: 'hello' }]);
  const want = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const zst = execFileSync('zstd', ['-q', '-c'], { input: raw });
  const cases: Array<[string, Buffer, 'auto' | 'gzip' | 'zstd' | 'none']> = [
    ['raw-auto', raw, 'auto'],
    ['raw-none', raw, 'none'],
    ['gz-auto', gzipSync(raw), 'auto'],
    ['gz', gzipSync(raw), 'gzip'],
    ['zst-auto', zst, 'auto'],
    ['zst', zst, 'zstd'],
  ];
  for (const [n, bytes, compression] of cases) {
    const dest = path.join(root, n);
    const r = await unpackLayer(from(bytes), dest, { compression });
    t.is(r.diffId as string, want, n);
    t.is(r.size, raw.length, n);
    t.is(await readFile(path.join(dest, 'f'), 'utf8'), 'hello', n);
  }
  // Declared none but really gzip: not a tar.
  const err = await t.throwsAsync(unpackLayer(from(gzipSync(raw)), path.join(root, 'bad'), { compression: 'none' }));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_LAYER_FORMAT');
});

test('merge mode: an opaque marker hides only lower content, even when it comes after new entries', async (t) => {
  const dest = path.join(await tmp(t), 'd');
  await unpackLayer(from(await tarOf([{ name: 'd/', type: 'directory' }, { name: 'd/old', body: 'o' }, { name: 'd/-gone', body: 'g' }])), dest);
  await unpackLayer(from(await tarOf([{ name: 'd/', type: 'directory' }, { name: 'd/-new', body: 'n' }, { name: 'd/.wh..wh..opq' }])), dest);
  t.deepEqual((await readdir(path.join(dest, 'd'))).sort(), ['-new']);
});

test('a hard link to a symlink links the symlink itself; overlay xattrs in a layer are ignored', async (t) => {
  const dest = path.join(await tmp(t), 'd');
  const p = pack();
  p.entry({ name: 'target', mode: 0o644, mtime: new Date(0) }, 't');
  p.entry({ name: 'sl', type: 'symlink', linkname: 'target', mtime: new Date(0) });
  p.entry({ name: 'hl', type: 'link', linkname: 'sl', mtime: new Date(0) });
  p.entry({ name: 'dir', type: 'directory', mode: 0o755, mtime: new Date(0), pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': 'yes' } });
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  await unpackLayer(from(Buffer.concat(chunks)), dest, { mode: 'overlay' });
  const { lstat } = await import('node:fs/promises');
  const hl = await lstat(path.join(dest, 'hl'));
  t.true(hl.isSymbolicLink());
  t.is(hl.ino, (await lstat(path.join(dest, 'sl'))).ino);
  const attrs = execFileSync('getfattr', ['-d', '-m', '-', '--absolute-names', path.join(dest, 'dir')], { encoding: 'utf8' });
  t.true(attrs.includes('user.ok="yes"'));
  t.false(attrs.includes('trusted.overlay'));
});

test('zstd: a layer far larger than a pipe buffer streams through; a corrupt zstd stream is a format error', async (t) => {
  const root = await tmp(t);
  const p = pack();
  const big = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  p.entry({ name: 'big', mode: 0o644, mtime: new Date(0) }, big);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const zst = execFileSync('zstd', ['-q', '-c', '-1'], { input: raw, maxBuffer: 1 << 27 });
  // Fed in small pieces, as a registry download would be.
  const pieces = Array.from({ length: Math.ceil(zst.length / 65536) }, (_, i) => zst.subarray(i * 65536, (i + 1) * 65536));
  const r = await unpackLayer(Readable.from(pieces), path.join(root, 'ok'));
  t.is(r.diffId as string, `sha256:${createHash('sha256').update(raw).digest('hex')}`);
  t.true((await readFile(path.join(root, 'ok/big'))).equals(big));
  const corrupt = Buffer.from(zst);
  corrupt.fill(0x55, 64, 4096);
  const err = await t.throwsAsync(unpackLayer(Readable.from([corrupt]), path.join(root, 'bad')));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_LAYER_FORMAT');
});

test('entry times: PAX mtime records are read (after 2242 too); before 1970 or past 2262 become the epoch, as containerd bounds them', async (t) => {
  const { TarChunks, END_OF_TAR } = await import('../../src/snapshot/tar-writer.js');
  const { lstat } = await import('node:fs/promises');
  const when: Record<string, string> = { old: '1960-01-01T00:00:00Z', y2038: '2100-06-01T12:00:00Z', far: '2250-01-01T00:00:00Z', beyond: '2300-01-01T00:00:00Z' };
  const tar = new TarChunks(4096);
  for (const [name, iso] of Object.entries(when)) tar.header({ name, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: new Date(iso), uname: '', gname: '' });
  tar.bytes(END_OF_TAR);
  const dest = await tmp(t);
  await unpackLayer(from(Buffer.concat(tar.take())), dest, { mode: 'merge' });
  const mtime = async (n: string) => (await lstat(path.join(dest, n))).mtime.toISOString();
  t.is(await mtime('old'), new Date(0).toISOString());
  t.is(await mtime('y2038'), new Date(when.y2038!).toISOString());
  t.is(await mtime('far'), new Date(when.far!).toISOString());
  t.is(await mtime('beyond'), new Date(0).toISOString());
});
