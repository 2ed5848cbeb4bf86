/**
 * ADD of local archives: every compression BuildKit detects, ownership/mode/mtime kept from the
 * archive (docker-confirmed: --chown only touches the created destination directory), and
 * tar-slip refusal.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import * as tarStream from 'tar-stream';
import type { CopyAction, Digest, FileOp } from '../../src/graph/index.js';
import { nullProgress } from '../../src/progress/index.js';
import { applyFileOp, detectCompression } from '../../src/fileop/index.js';
import { makeTree, readTree, tempDir } from './tree.js';

const CTX = ('sha256:' + 'c'.repeat(64)) as Digest;
const ctx = () => ({ signal: new AbortController().signal, progress: nullProgress });
const T2021 = Date.UTC(2021, 1, 3) / 1000;

function add(src: string, dest: string, extra: Partial<CopyAction> = {}): FileOp {
  const a: CopyAction = { action: 'copy', from: CTX, src: [src], dest, link: false, exclude: [], parents: false, unpack: true, allowWildcard: true, allowEmptyWildcard: false, ...extra };
  return { kind: 'file', actions: [a], user: '', platform: { os: 'linux', architecture: 'amd64' } };
}

async function setup() {
  const t = await tempDir('archive');
  const tree = path.join(t.dir, 'tree');
  const c = path.join(t.dir, 'ctx');
  const root = path.join(t.dir, 'root');
  await makeTree(tree, {
    d: { t: 'd', mode: 0o711, uid: 1500, gid: 1600, mtime: T2021 },
    'd/f': { t: 'f', data: 'hi\n', uid: 1500, gid: 1600, mtime: T2021 },
    'd/l': { t: 'l', target: 'f', uid: 1500, gid: 1600 },
  });
  await makeTree(c, { 'plain.txt': { t: 'f', data: 'not an archive' } });
  await makeTree(root, { etc: { t: 'd' } });
  execFileSync('tar', ['-C', tree, '-cf', path.join(c, 'a.tar'), '.']);
  const tarBuf = execFileSync('cat', [path.join(c, 'a.tar')]);
  await writeFile(path.join(c, 'a.tar.gz'), gzipSync(tarBuf));
  for (const [bin, ext] of [['bzip2', 'bz2'], ['xz', 'xz'], ['zstd', 'zst']] as const) {
    await writeFile(path.join(c, `a.tar.${ext}`), execFileSync(bin, ['-c'], { input: tarBuf }));
  }
  // Same bytes, misleading names: detection is by content, not by extension.
  await writeFile(path.join(c, 'renamed.bin'), execFileSync('xz', ['-c'], { input: tarBuf }));
  await writeFile(path.join(c, 'text.gz'), gzipSync(Buffer.from('just text, not a tar')));
  const env = { rootDir: root, inputDir: () => c, contextIsLocal: () => true };
  return { t, root, env };
}

for (const name of ['a.tar', 'a.tar.gz', 'a.tar.bz2', 'a.tar.xz', 'a.tar.zst', 'renamed.bin']) {
  test(`ADD extracts ${name}`, async (t) => {
    const s = await setup();
    try {
      await applyFileOp(ctx(), add(name, '/x/'), s.env);
      const tree = await readTree(s.root, { mtime: true });
      // The destination is created now (the archive's "." entry does not set it), as in Docker.
      t.is(tree['x'], 'd 755 0:0 @other');
      t.is(tree['x/d'], 'd 711 1500:1600 @other');
      t.is(tree['x/d/f'], 'f 644 1500:1600 hi\n @other');
      t.is(tree['x/d/l'], 'l 1500:1600 -> f');
      const { stat } = await import('node:fs/promises');
      t.is((await stat(path.join(s.root, 'x/d'))).mtimeMs / 1000, T2021);
      t.is((await stat(path.join(s.root, 'x/d/f'))).mtimeMs / 1000, T2021);
    } finally {
      await s.t.cleanup();
    }
  });
}

test('docker: ADD --chown owns only the created destination; dest without slash is a directory', async (t) => {
  const s = await setup();
  try {
    await applyFileOp(ctx(), add('a.tar.gz', '/yc', { chown: { user: '7', group: '8' } }), s.env);
    const tree = await readTree(s.root);
    t.is(tree['yc'], 'd 755 7:8');
    t.is(tree['yc/d/f'], 'f 644 1500:1600 hi\n');
  } finally {
    await s.t.cleanup();
  }
});

test('ADD copies non-archives (even gzip of non-tar) as files; COPY never extracts', async (t) => {
  const s = await setup();
  try {
    await applyFileOp(ctx(), add('text.gz', '/t/'), s.env);
    await applyFileOp(ctx(), add('plain.txt', '/t/'), s.env);
    await applyFileOp(ctx(), add('a.tar', '/t/', { unpack: false }), s.env);
    t.deepEqual(await readdir(path.join(s.root, 't')), ['a.tar', 'plain.txt', 'text.gz']);
  } finally {
    await s.t.cleanup();
  }
});

test('detectCompression by magic bytes', (t) => {
  t.is(detectCompression(gzipSync(Buffer.from('x'))), 'gzip');
  t.is(detectCompression(execFileSync('bzip2', ['-c'], { input: 'x' })), 'bzip2');
  t.is(detectCompression(execFileSync('xz', ['-c'], { input: 'x' })), 'xz');
  t.is(detectCompression(execFileSync('zstd', ['-c'], { input: 'x' })), 'zstd');
  t.is(detectCompression(Buffer.from('plain')), 'none');
});

async function evilTar(entries: Array<{ name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; data?: string }>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    if (e.type === 'file' || e.type === undefined) pack.entry({ name: e.name, mode: 0o644 }, e.data ?? 'pwned');
    else pack.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: 0o755 });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const slips: Array<[string, Parameters<typeof evilTar>[0]]> = [
  ['a ../ entry', [{ name: '../../escaped' }]],
  ['a nested ../ entry', [{ name: 'a/../../../escaped' }]],
  ['a hardlink to a path outside', [{ name: 'h', type: 'link', linkname: '../../escaped-target' }]],
];
for (const [name, entries] of slips) {
  test(`ADD refuses tar-slip: ${name}`, async (t) => {
    const s = await setup();
    try {
      const c = s.env.inputDir();
      await writeFile(path.join(c, 'evil.tar.gz'), gzipSync(await evilTar(entries)));
      const err = await t.throwsAsync(applyFileOp(ctx(), add('evil.tar.gz', '/x/'), s.env));
      t.is((err as { code?: string }).code, 'ERR_TSBUILD_ADD_ARCHIVE_UNSAFE');
      t.deepEqual((await readdir(s.t.dir)).sort(), ['ctx', 'root', 'tree']);
      t.deepEqual((await readdir(s.root)).sort(), ['etc', 'x']);
    } finally {
      await s.t.cleanup();
    }
  });
}

test('ADD: a symlink pointing above the destination is kept as written (BuildKit); entries written through it stay inside', async (t) => {
  const s = await setup();
  try {
    const c = s.env.inputDir();
    await writeFile(path.join(c, 'up.tar'), await evilTar([{ name: 'd/l', type: 'symlink', linkname: '../../../outside' }, { name: 'd/l/through', data: 'contained' }]));
    const r = await applyFileOp(ctx(), add('up.tar', '/x/'), s.env).then(() => 'ok', (e: { code?: string }) => e.code);
    // Either the write through the link is refused or it lands inside the root: never outside.
    t.true(r === 'ok' || r === 'ERR_TSBUILD_ADD_ARCHIVE_UNSAFE', String(r));
    t.deepEqual((await readdir(s.t.dir)).sort(), ['ctx', 'root', 'tree']);
    const { readlink } = await import('node:fs/promises');
    t.is(await readlink(path.join(s.root, 'x/d/l')), '../../../outside');
  } finally {
    await s.t.cleanup();
  }
});

test('ADD: fifos are recreated; a hard link entry applies its own mode and owner to the inode (as BuildKit)', async (t) => {
  const s = await setup();
  try {
    const c = s.env.inputDir();
    const pack = tarStream.pack();
    pack.entry({ name: 'f', mode: 0o4755, mtime: new Date(1e12) }, 'one');
    pack.entry({ name: 'hl', type: 'link', linkname: 'f', mode: 0o644, uid: 0, gid: 0, mtime: new Date(1e12) });
    pack.entry({ name: 'f', mode: 0o600, mtime: new Date(1e12) }, 'second');
    pack.entry({ name: 'pipe', type: 'fifo', mode: 0o640, uid: 3, gid: 4, mtime: new Date(1e12) });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const ch of pack) chunks.push(ch as Buffer);
    await writeFile(path.join(c, 'x.tar'), Buffer.concat(chunks));
    await applyFileOp(ctx(), add('x.tar', '/t/'), s.env);
    const { lstat } = await import('node:fs/promises');
    const hl = await lstat(path.join(s.root, 't/hl'));
    t.is(hl.mode & 0o7777, 0o644);
    t.is((await lstat(path.join(s.root, 't/f'))).mode & 0o7777, 0o600);
    const pipe = await lstat(path.join(s.root, 't/pipe'));
    t.true(pipe.isFIFO());
    t.deepEqual([pipe.mode & 0o7777, pipe.uid, pipe.gid, pipe.mtimeMs], [0o640, 3, 4, 1e12]);
  } finally {
    await s.t.cleanup();
  }
});

test('ADD: an absolute symlink in an archive cannot redirect later entries out of the destination', async (t) => {
  const s = await setup();
  try {
    const c = s.env.inputDir();
    await writeFile(path.join(c, 'abs.tar'), await evilTar([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', data: 'inside' }, { name: '/abs/file', data: 'rooted' }]));
    await applyFileOp(ctx(), add('abs.tar', '/x/'), s.env);
    const tree = await readTree(s.root);
    t.is(tree['x/etc/passwd'], 'f 644 0:0 inside');
    t.is(tree['x/abs/file'], 'f 644 0:0 rooted');
    t.is(tree['etc/passwd'], undefined);
  } finally {
    await s.t.cleanup();
  }
});

test('ADD applies PAX xattr records of archive entries', async (t) => {
  const s = await setup();
  try {
    const c = s.env.inputDir();
    const pack = tarStream.pack();
    pack.entry({ name: 'tool', mode: 0o755, pax: { 'SCHILY.xattr.user.origin': 'archive' } }, 'bin');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const ch of pack) chunks.push(ch as Buffer);
    await writeFile(path.join(c, 'x.tar'), Buffer.concat(chunks));
    await applyFileOp(ctx(), add('x.tar', '/px/'), s.env);
    const out = execFileSync('getfattr', ['-n', 'user.origin', '--only-values', path.join(s.root, 'px/tool')], { encoding: 'utf8' });
    t.is(out, 'archive');
  } finally {
    await s.t.cleanup();
  }
});
