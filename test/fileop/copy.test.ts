/**
 * COPY/ADD, mkdir, mkfile and rm on real directories. Expected trees marked "docker" were
 * confirmed with Docker 26 / BuildKit 0.13 on the same inputs (see the report of the fileop work).
 */
import test from 'ava';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CopyAction, Digest, FileAction, FileOp } from '../../src/graph/index.js';
import { nullProgress } from '../../src/progress/index.js';
import { applyFileOp } from '../../src/fileop/index.js';
import { makeTree, readTree, tempDir, T2020, type Tree } from './tree.js';

const CTX = 'sha256:' + 'c'.repeat(64) as Digest;
const STAGE = 'sha256:' + 'a'.repeat(64) as Digest;
const ctx = () => ({ signal: new AbortController().signal, progress: nullProgress });

function copy(src: string[], dest: string, extra: Partial<CopyAction> = {}): CopyAction {
  return { action: 'copy', from: CTX, src, dest, link: false, exclude: [], parents: false, unpack: false, allowWildcard: true, allowEmptyWildcard: false, ...extra };
}
function fileOp(actions: FileAction[], user = ''): FileOp {
  return { kind: 'file', actions, user, platform: { os: 'linux', architecture: 'amd64' } };
}

const context: Tree = {
  'a.txt': { t: 'f', data: 'a', uid: 1500, gid: 1600 },
  'b.txt': { t: 'f', data: 'b' },
  'x.md': { t: 'f', data: 'md' },
  'link': { t: 'l', target: 'a.txt' },
  'dir': { t: 'd', mode: 0o700 },
  'dir/sub': { t: 'd', mode: 0o750 },
  'dir/sub/x': { t: 'f', data: 'x' },
  'dir/sub/esc': { t: 'l', target: '../../../../etc/passwd' },
  'dir/notes.md': { t: 'f', data: 'n' },
  'p/a/b/c': { t: 'f', data: 'c', mode: 0o600 },
  'exe': { t: 'f', data: 'e', mode: 0o664 },
  'linkdir': { t: 'l', target: 'dir/sub' },
  'sdir/suid': { t: 'f', data: 's', mode: 0o4755, uid: 1500, gid: 1600 },
  'sdir/l': { t: 'l', target: 'suid', uid: 1500, gid: 1600 },
};
const stage: Tree = {
  'src/sub': { t: 'd', uid: 33, gid: 44 },
  'src/sub/z': { t: 'f', data: 'z', uid: 33, gid: 44 },
  'src/abs': { t: 'l', target: '/etc/passwd' },
};
const targetRoot: Tree = {
  'etc/passwd': { t: 'f', data: 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n' },
  'etc/group': { t: 'f', data: 'root:x:0:\nstaff:x:50:app\n' },
  'existing': { t: 'd' },
  'real': { t: 'd' },
  'rel-link': { t: 'l', target: 'real' },
  'abs-escape': { t: 'l', target: '/../../../../tmp' },
  'file-link': { t: 'l', target: 'real/target' },
  'real/target': { t: 'f', data: 'old' },
  'ex': { t: 'd', mode: 0o700, uid: 5, gid: 6, mtime: T2020 - 86400 },
  'wd': { t: 'd', uid: 9, gid: 9, mtime: T2020 - 86400 },
};

interface Case {
  name: string;
  actions: FileAction[];
  user?: string;
  /** Expected entries (subset of the result, root-relative); mtime markers when mtime is set. */
  expect: Record<string, string>;
  mtime?: boolean;
  absent?: string[];
}

const cases: Case[] = [
  { name: 'docker: file to a new path, context owner reset to 0:0', actions: [copy(['a.txt'], '/f')], expect: { f: 'f 644 0:0 a' } },
  { name: 'docker: trailing slash makes a directory', actions: [copy(['a.txt'], '/sym/')], mtime: true, expect: { sym: 'd 755 0:0 @other', 'sym/a.txt': 'f 644 0:0 a @2020' } },
  {
    name: 'docker: directory copies its contents; new top dir is 0755 with the source mtime',
    actions: [copy(['dir'], '/newdir')],
    mtime: true,
    expect: { newdir: 'd 755 0:0 @2020', 'newdir/sub': 'd 750 0:0 @2020', 'newdir/sub/x': 'f 644 0:0 x @2020', 'newdir/sub/esc': 'l 0:0 -> ../../../../etc/passwd' },
  },
  {
    name: 'docker: --chown applies to created parents and files',
    actions: [copy(['a.txt'], '/p1/p2/f', { chown: { user: '1234', group: '55' } })],
    mtime: true,
    expect: { p1: 'd 755 1234:55 @other', 'p1/p2': 'd 755 1234:55 @other', 'p1/p2/f': 'f 644 1234:55 a @2020' },
  },
  { name: 'docker: a wildcard onto a file path overwrites it (last match wins)', actions: [copy(['*.txt'], '/single')], expect: { single: 'f 644 0:0 b' } },
  { name: 'docker: the source argument itself is followed when it is a symlink', actions: [copy(['link'], '/viaLink')], expect: { viaLink: 'f 644 0:0 a' } },
  { name: 'a symlink source into a directory keeps the argument name', actions: [copy(['link'], '/existing/')], expect: { 'existing/link': 'f 644 0:0 a' } },
  {
    name: 'docker: numeric --chmod applies to nested dirs and files but not the top dir',
    actions: [copy(['dir'], '/chm/', { chmod: 0o640 })],
    expect: { chm: 'd 755 0:0', 'chm/sub': 'd 640 0:0', 'chm/sub/x': 'f 640 0:0 x' },
  },
  {
    name: 'docker: COPY --from a stage preserves owners and symlinks',
    actions: [copy(['/src'], '/fs/', { from: STAGE })],
    expect: { fs: 'd 755 0:0', 'fs/sub': 'd 755 33:44', 'fs/sub/z': 'f 644 33:44 z', 'fs/abs': 'l 0:0 -> /etc/passwd' },
  },
  {
    name: 'docker: a directory merged into an existing one keeps its mode and owner but takes the source mtime',
    actions: [copy(['dir'], '/ex/')],
    mtime: true,
    expect: { ex: 'd 700 5:6 @2020', 'ex/sub': 'd 750 0:0 @2020', 'ex/sub/x': 'f 644 0:0 x @2020' },
  },
  { name: 'docker: a symlink to a directory as source copies the target contents', actions: [copy(['linkdir'], '/ld')], mtime: true, expect: { ld: 'd 755 0:0 @2020', 'ld/x': 'f 644 0:0 x @2020' } },
  { name: 'docker: WORKDIR on an existing directory leaves it alone', actions: [{ action: 'mkdir', path: '/wd', mode: 0o755, parents: true }], user: 'app', mtime: true, expect: { wd: 'd 755 9:9 @other' } },
  { name: 'docker: context owners (files and links) reset to 0:0, setuid kept', actions: [copy(['sdir'], '/sd')], expect: { 'sd/suid': 'f 4755 0:0 s', 'sd/l': 'l 0:0 -> suid' } },
  { name: 'a file onto an existing directory lands inside it', actions: [copy(['a.txt'], '/existing')], expect: { 'existing/a.txt': 'f 644 0:0 a' } },
  { name: 'several sources into a directory', actions: [copy(['a.txt', 'b.txt'], '/m/')], expect: { 'm/a.txt': 'f 644 0:0 a', 'm/b.txt': 'f 644 0:0 b' } },
  { name: 'wildcard classes and ?', actions: [copy(['[ab].tx?'], '/w/')], expect: { 'w/a.txt': 'f 644 0:0 a', 'w/b.txt': 'f 644 0:0 b' }, absent: ['w/x.md'] },
  { name: 'wildcards in a directory component', actions: [copy(['d*/sub/x'], '/wd/')], expect: { 'wd/x': 'f 644 0:0 x' } },
  { name: '--exclude patterns are relative to the source', actions: [copy(['.'], '/e/', { exclude: ['*.md', 'dir/sub'] })], expect: { 'e/a.txt': 'f 644 0:0 a', 'e/dir': 'd 700 0:0', 'e/dir/notes.md': 'f 644 0:0 n' }, absent: ['e/x.md', 'e/dir/sub'] },
  { name: '--exclude with ** reaches nested paths', actions: [copy(['dir'], '/e3/', { exclude: ['**/*.md'] })], expect: { 'e3/sub/x': 'f 644 0:0 x' }, absent: ['e3/notes.md'] },
  { name: '--exclude on a wildcard match skips it', actions: [copy(['*'], '/e2/', { exclude: ['*.md'] })], expect: { 'e2/b.txt': 'f 644 0:0 b' }, absent: ['e2/x.md'] },
  { name: '--parents keeps the path after the /./ pivot', actions: [copy(['./p/a/./b/c'], '/dst/', { parents: true })], expect: { 'dst/b': 'd 755 0:0', 'dst/b/c': 'f 600 0:0 c' }, absent: ['dst/p', 'dst/a'] },
  { name: '--parents without a pivot keeps the whole path', actions: [copy(['p/a/b/c'], '/dst/', { parents: true })], expect: { 'dst/p/a/b/c': 'f 600 0:0 c' } },
  { name: '--parents with wildcards', actions: [copy(['p/*/b/c', 'dir/s*/x'], '/pw/', { parents: true })], expect: { 'pw/p/a/b/c': 'f 600 0:0 c', 'pw/dir': 'd 700 0:0', 'pw/dir/sub/x': 'f 644 0:0 x' } },
  { name: 'symbolic --chmod u+x,g-w', actions: [copy(['exe'], '/s1', { chmod: 'u+x,g-w' })], expect: { s1: 'f 744 0:0 e' } },
  { name: 'symbolic --chmod +x and o=r', actions: [copy(['exe'], '/s2', { chmod: '+x' }), copy(['exe'], '/s3', { chmod: 'a-w,o=' })], expect: { s2: 'f 775 0:0 e', s3: 'f 440 0:0 e' } },
  { name: '--chown by name uses the target root passwd primary gid', actions: [copy(['a.txt'], '/o1', { chown: { user: 'app' } })], expect: { o1: 'f 644 1001:1002 a' } },
  { name: '--chown user:group by names', actions: [copy(['a.txt'], '/o2', { chown: { user: 'app', group: 'staff' } })], expect: { o2: 'f 644 1001:50 a' } },
  { name: 'docker: numeric --chown ignores the passwd entry gid (1001 -> 1001:1001, not 1002)', actions: [copy(['a.txt'], '/o4', { chown: { user: '1001' } })], expect: { o4: 'f 644 1001:1001 a' } },
  { name: 'docker: numeric uid with a group name', actions: [copy(['a.txt'], '/o5', { chown: { user: '1001', group: 'staff' } })], expect: { o5: 'f 644 1001:50 a' } },
  { name: 'docker: WORKDIR as numeric USER with a passwd entry gets gid = uid', actions: [{ action: 'mkdir', path: '/wnum', mode: 0o755, parents: true }], user: '1001', expect: { wnum: 'd 755 1001:1001' } },
  { name: 'numeric --chown without group uses gid = uid', actions: [copy(['a.txt'], '/o3', { chown: { user: '1005' } })], expect: { o3: 'f 644 1005:1005 a' } },
  { name: 'a relative destination symlink is followed inside the root', actions: [copy(['a.txt'], '/rel-link/')], expect: { 'real/a.txt': 'f 644 0:0 a' } },
  { name: 'an absolute destination symlink stays inside the root', actions: [copy(['a.txt'], '/abs-escape/')], expect: { 'tmp/a.txt': 'f 644 0:0 a' } },
  { name: 'without --link a destination file symlink is written through', actions: [copy(['a.txt'], '/file-link')], expect: { 'real/target': 'f 644 0:0 a', 'file-link': 'l 0:0 -> real/target' } },
  { name: 'docker: --link writes through a destination file symlink like a plain COPY', actions: [copy(['a.txt'], '/file-link', { link: true })], expect: { 'real/target': 'f 644 0:0 a', 'file-link': 'l 0:0 -> real/target' } },
  { name: 'docker: --link follows a symlinked destination dir and keeps existing parent metadata', actions: [copy(['a.txt'], '/rel-link/', { link: true }), copy(['a.txt'], '/ex/', { link: true })], expect: { 'real/a.txt': 'f 644 0:0 a', 'rel-link': 'l 0:0 -> real', ex: 'd 700 5:6', 'ex/a.txt': 'f 644 0:0 a' } },
  { name: '--parents with a missing path and empty wildcards allowed copies nothing (buildkit#4900)', actions: [copy(['nope/x'], '/pn/', { parents: true, allowEmptyWildcard: true })], expect: { pn: 'd 755 0:0' }, absent: ['pn/nope'] },
  // BuildKit (Docker 26 lab): `COPY no-such-* /maybe/` succeeds and /maybe does not exist afterwards.
  { name: 'empty wildcard allowed: nothing copied, destination not created', actions: [copy(['nothing*'], '/none/', { allowEmptyWildcard: true })], expect: {}, absent: ['none'] },
  { name: 'empty wildcard beside a match: the match is copied', actions: [copy(['nothing*', 'a.txt'], '/some/', { allowEmptyWildcard: true })], expect: { some: 'd 755 0:0', 'some/a.txt': 'f 644 0:0 a' } },
  { name: 'escaped wildcard characters are literal', actions: [copy(['a\\.txt'], '/lit')], expect: { lit: 'f 644 0:0 a' } },
  {
    name: 'docker: WORKDIR mkdir creates every component owned by USER (uid 1000 -> 1000:1000)',
    actions: [{ action: 'mkdir', path: '/w1/w2', mode: 0o755, parents: true }],
    user: '1000',
    expect: { w1: 'd 755 1000:1000', 'w1/w2': 'd 755 1000:1000' },
  },
  { name: 'docker: mkdir by user name uses the primary gid', actions: [{ action: 'mkdir', path: '/h', mode: 0o755, parents: true }], user: 'app', expect: { h: 'd 755 1001:1002' } },
  { name: 'docker: --chown=:GROUP is uid 0 with that group (lab: 0:1000)', actions: [copy(['a.txt'], '/g', { chown: { user: '', group: '1000' } })], expect: { g: 'f 644 0:1000 a' } },
  { name: 'mkdir without parents, explicit chown and mode', actions: [{ action: 'mkdir', path: '/existing/one', mode: 0o700, parents: false, chown: { user: '3', group: '4' } }], expect: { 'existing/one': 'd 700 3:4' } },
  { name: 'mkfile with mode', actions: [{ action: 'mkfile', path: '/heredoc', mode: 0o664, data: 'hello\n' }], expect: { heredoc: 'f 664 0:0 hello\n' } },
  { name: 'rm removes a tree; allowNotFound', actions: [{ action: 'rm', path: '/real', allowNotFound: false }, { action: 'rm', path: '/nope', allowNotFound: true }], expect: {}, absent: ['real', 'real/target'] },
];

async function run(c: Pick<Case, 'actions' | 'user'>) {
  const t = await tempDir('copy');
  const dirs = { ctx: path.join(t.dir, 'ctx'), stage: path.join(t.dir, 'stage'), root: path.join(t.dir, 'root') };
  await makeTree(dirs.ctx, context);
  await makeTree(dirs.stage, stage);
  await makeTree(dirs.root, targetRoot);
  const env = {
    rootDir: dirs.root,
    inputDir: (d: Digest) => (d === CTX ? dirs.ctx : dirs.stage),
    contextIsLocal: (d: Digest) => d === CTX,
  };
  return { t, dirs, promise: applyFileOp(ctx(), fileOp(c.actions, c.user), env) };
}

for (const c of cases) {
  test(`copy: ${c.name}`, async (t) => {
    const r = await run(c);
    try {
      await r.promise;
      const tree = await readTree(r.dirs.root, { mtime: c.mtime });
      for (const [p, want] of Object.entries(c.expect)) t.is(tree[p], want, p);
      for (const p of c.absent ?? []) t.is(tree[p], undefined, p);
      // Nothing ever lands outside the root.
      t.deepEqual(await readTree(r.dirs.ctx), await readTreeAfterMake(context));
    } finally {
      await r.t.cleanup();
    }
  });
}

async function readTreeAfterMake(tree: Tree) {
  const t = await tempDir('ref');
  try {
    await makeTree(t.dir, tree);
    return await readTree(t.dir);
  } finally {
    await t.cleanup();
  }
}

const errors: Array<[string, FileAction[], string]> = [
  ['missing source', [copy(['nope.txt'], '/x')], 'ERR_TSBUILD_COPY_SOURCE'],
  ['wildcard matching nothing', [copy(['nope*'], '/x/')], 'ERR_TSBUILD_COPY_SOURCE'],
  ['../ source', [copy(['../etc/passwd'], '/x')], 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT'],
  ['symlink source escaping the context', [copy(['dir/sub/esc'], '/x')], 'ERR_TSBUILD_COPY_OUTSIDE_CONTEXT'],
  ['several sources to a file destination', [copy(['a.txt', 'b.txt'], '/x')], 'ERR_TSBUILD_COPY_DEST'],
  ['unknown --chown user', [copy(['a.txt'], '/x', { chown: { user: 'ghost' } })], 'ERR_TSBUILD_COPY_USER'],
  ['unknown --chown group', [copy(['a.txt'], '/x', { chown: { user: 'app', group: 'ghosts' } })], 'ERR_TSBUILD_COPY_USER'],
  ['directory onto an existing file', [copy(['dir'], '/real/target')], 'ERR_TSBUILD_COPY_CONFLICT'],
  ['mkdir without parents under a missing parent', [{ action: 'mkdir', path: '/no/such', mode: 0o755, parents: false }], 'ERR_TSBUILD_COPY_CONFLICT'],
  ['mkfile under a missing parent', [{ action: 'mkfile', path: '/no/such', mode: 0o644, data: '' }], 'ERR_TSBUILD_COPY_CONFLICT'],
  ['rm of the root', [{ action: 'rm', path: '/', allowNotFound: false }], 'ERR_TSBUILD_COPY_CONFLICT'],
  ['--parents with a missing path', [copy(['nope/x'], '/pn/', { parents: true })], 'ERR_TSBUILD_COPY_SOURCE'],
  ['rm of a missing path', [{ action: 'rm', path: '/nope', allowNotFound: false }], 'ERR_TSBUILD_COPY_SOURCE'],
];
for (const [name, actions, code] of errors) {
  test(`copy error: ${name}`, async (t) => {
    const r = await run({ actions });
    try {
      const err = await t.throwsAsync(r.promise);
      t.is((err as { code?: string }).code, code);
    } finally {
      await r.t.cleanup();
    }
  });
}

test('copy: hardlinks inside a copied directory stay hardlinks; counters count bytes', async (t) => {
  const tmp = await tempDir('hl');
  try {
    const src = path.join(tmp.dir, 'src');
    const root = path.join(tmp.dir, 'root');
    await mkdir(path.join(src, 'd'), { recursive: true });
    await mkdir(root);
    await writeFile(path.join(src, 'd/one'), '12345');
    const { link, stat } = await import('node:fs/promises');
    await link(path.join(src, 'd/one'), path.join(src, 'd/two'));
    await symlink('one', path.join(src, 'd/three'));
    const res = await applyFileOp(ctx(), fileOp([copy(['d'], '/out')]), { rootDir: root, inputDir: () => src });
    const a = await stat(path.join(root, 'out/one'));
    const b = await stat(path.join(root, 'out/two'));
    t.is(a.ino, b.ino);
    t.deepEqual(res, { bytesRead: 5, filesRead: 1 });
    // Two sources that are links of one file are copied separately (BuildKit, Docker 26 lab): two files.
    await applyFileOp(ctx(), fileOp([copy(['d/one', 'd/two'], '/sep/')]), { rootDir: root, inputDir: () => src });
    t.not((await stat(path.join(root, 'sep/one'))).ino, (await stat(path.join(root, 'sep/two'))).ino);
  } finally {
    await tmp.cleanup();
  }
});

test('copy: xattrs (file capabilities, user attributes) are copied, and survive --chown', async (t) => {
  const tmp = await tempDir('xattr');
  try {
    const src = path.join(tmp.dir, 'src');
    const root = path.join(tmp.dir, 'root');
    await mkdir(path.join(src, 'bin'), { recursive: true });
    await mkdir(root);
    await writeFile(path.join(src, 'bin/ping'), 'elf');
    const { execFileSync } = await import('node:child_process');
    const cap = '0x0100000200200000000000000000000000000000';
    execFileSync('setfattr', ['-n', 'security.capability', '-v', cap, path.join(src, 'bin/ping')]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'hi', path.join(src, 'bin')]);
    await applyFileOp(ctx(), fileOp([copy(['bin'], '/usr/bin/', { chown: { user: '5' } })]), { rootDir: root, inputDir: () => src });
    const get = (p: string) => execFileSync('getfattr', ['-d', '-m', '-', '-e', 'hex', '--absolute-names', p], { encoding: 'utf8' });
    t.true(get(path.join(root, 'usr/bin/ping')).includes(`security.capability=${cap}`));
    // The top directory merges into the destination, which keeps its own attributes (none).
    t.false(get(path.join(root, 'usr/bin')).includes('user.note'));
  } finally {
    await tmp.cleanup();
  }
});

test('copy: a cancelled build stops with ERR_TSBUILD_CANCELLED', async (t) => {
  const r = await run({ actions: [] });
  try {
    const ac = new AbortController();
    ac.abort();
    const err = await t.throwsAsync(
      applyFileOp({ signal: ac.signal, progress: nullProgress }, fileOp([copy(['dir'], '/x/')]), { rootDir: r.dirs.root, inputDir: () => r.dirs.ctx }),
    );
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_CANCELLED');
  } finally {
    await r.promise.catch(() => undefined);
    await r.t.cleanup();
  }
});

test('copy: a context read in place takes each entry\'s metadata from the walk that keyed it, not from a later lstat', async (t) => {
  const tmp = await tempDir('known-stat');
  try {
    const src = path.join(tmp.dir, 'ctx');
    const root = path.join(tmp.dir, 'root');
    await mkdir(path.join(src, 'd'), { recursive: true });
    await mkdir(root);
    await writeFile(path.join(src, 'd/f.txt'), 'same bytes', { mode: 0o644 });
    const { chmod, lstat, utimes } = await import('node:fs/promises');
    // What the hasher saw (and so what the cache key holds) ...
    const walked = new Map([['d', await lstat(path.join(src, 'd'))], ['d/f.txt', await lstat(path.join(src, 'd/f.txt'))]]);
    // ... then a chmod and a touch land before the copy reads the file.
    await chmod(path.join(src, 'd/f.txt'), 0o600);
    await utimes(path.join(src, 'd/f.txt'), T2020, T2020);
    const visible = new Set(['d', 'd/f.txt']);
    await applyFileOp(ctx(), fileOp([copy(['.'], '/app/')]), {
      rootDir: root,
      inputDir: () => src,
      contextIsLocal: () => true,
      inputVisible: () => visible,
      inputStat: () => (rel) => walked.get(rel),
    });
    const copied = await lstat(path.join(root, 'app/d/f.txt'));
    t.is(copied.mode & 0o777, 0o644);
    // Copies carry times at about millisecond precision (utimes with Dates).
    t.true(Math.abs(copied.mtimeMs - walked.get('d/f.txt')!.mtimeMs) < 2);
    t.true(Math.abs((await lstat(path.join(root, 'app/d'))).mtimeMs - walked.get('d')!.mtimeMs) < 2);
  } finally {
    await tmp.cleanup();
  }
});

test('copy: xattrs of a file expected to be reused but copied after all are read after the copy', async (t) => {
  const tmp = await tempDir('xattr-late');
  try {
    const src = path.join(tmp.dir, 'ctx');
    const root = path.join(tmp.dir, 'root');
    await mkdir(src);
    await mkdir(root);
    await writeFile(path.join(src, 'tagged'), 'x');
    await writeFile(path.join(src, 'plain'), 'y');
    const { execFileSync } = await import('node:child_process');
    const { lstat } = await import('node:fs/promises');
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', path.join(src, 'tagged')]);
    const walked = new Map([['tagged', await lstat(path.join(src, 'tagged'))], ['plain', await lstat(path.join(src, 'plain'))]]);
    const asked: string[] = [];
    // The record promised both files, but linking fails: both are copied.
    const reuse = { wouldReuse: () => true, reuse: () => false, copied: (s: string) => void asked.push(s) };
    await applyFileOp(ctx(), fileOp([copy(['.'], '/app/')]), {
      rootDir: root,
      inputDir: () => src,
      contextIsLocal: () => true,
      inputVisible: () => new Set(['tagged', 'plain']),
      inputStat: () => (rel) => walked.get(rel),
      reuse,
    });
    t.is(asked.length, 2);
    const get = (p: string) => execFileSync('getfattr', ['-d', '-m', 'user.', '--absolute-names', p], { encoding: 'utf8' });
    t.true(get(path.join(root, 'app/tagged')).includes('user.note="kept"'));
    t.is(get(path.join(root, 'app/plain')), '');
  } finally {
    await tmp.cleanup();
  }
});
