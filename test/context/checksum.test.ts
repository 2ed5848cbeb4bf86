/**
 * Context checksums: the digest is the canonical JSON digest of (path, type, mode, content) per
 * selected entry, stable across runs through the stat cache; touch changes nothing, an edit
 * changes it.
 */
import test from 'ava';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContextHasher, formatStatCache, parseStatCache, selectEntries, type StatCacheEntry } from '../../src/context/checksum.js';
import { digestOf, sha256 } from '../../src/util/digest.js';

test('digest = digestOf({v: 2, patterns, parts}); the stat cache gives the same digest; touch keeps it, an edit changes it', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-checksum-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ctx = path.join(dir, 'ctx');
  await mkdir(path.join(ctx, 'src/sub'), { recursive: true });
  await writeFile(path.join(ctx, 'src/a.txt'), 'a');
  await writeFile(path.join(ctx, 'src/sub/b.txt'), 'bb', { mode: 0o755 });
  await writeFile(path.join(ctx, 'top "quoted".txt'), 'q');
  await symlink('src/a.txt', path.join(ctx, 'link'));
  const statCacheFile = path.join(dir, 'stat-cache.json');
  const patterns = ['.', 'src/'];

  const first = createContextHasher({ contextDir: ctx, statCacheFile });
  const all = await first.entries();
  const r1 = await first.checksum(patterns);
  const parts = selectEntries(all, patterns).map((e) => [e.path, e.type, e.mode, e.type === 'file' ? e.hash : e.type === 'symlink' ? e.linkTarget : null]);
  t.is(parts.find((p) => p[0] === 'src/a.txt')![3], sha256('a').slice(7));
  t.is(r1.digest, digestOf({ v: 2, patterns, parts }));
  await first.save();

  const second = createContextHasher({ contextDir: ctx, statCacheFile });
  t.is((await second.checksum(patterns)).digest, r1.digest);

  const later = new Date(Date.now() + 5000);
  await utimes(path.join(ctx, 'src/a.txt'), later, later);
  const touched = createContextHasher({ contextDir: ctx, statCacheFile });
  t.is((await touched.checksum(patterns)).digest, r1.digest);

  await writeFile(path.join(ctx, 'src/a.txt'), 'A');
  const edited = createContextHasher({ contextDir: ctx, statCacheFile });
  t.not((await edited.checksum(patterns)).digest, r1.digest);
});

test('a source that is a symlink selects its target too (chains, dirs), so COPY can follow it and its cache key sees the target; links inside a copied dir do not', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-checksum-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'real'), { recursive: true });
  await writeFile(path.join(dir, 'real/in'), 'in');
  await writeFile(path.join(dir, 'target.txt'), 't');
  await writeFile(path.join(dir, 'other.txt'), 'o');
  await symlink('target.txt', path.join(dir, 'ctx-link'));
  await symlink('ctx-link', path.join(dir, 'chain'));
  await symlink('/real', path.join(dir, 'abs-dir-link'));
  await mkdir(path.join(dir, 'pkg'));
  await symlink('../other.txt', path.join(dir, 'pkg/inner-link'));
  const all = await createContextHasher({ contextDir: dir, statCacheFile: path.join(os.tmpdir(), `unused-${process.pid}`) }).entries();
  const sel = (patterns: string[]) => selectEntries(all, patterns).map((e) => e.path).sort();
  t.deepEqual(sel(['ctx-link']), ['ctx-link', 'target.txt']);
  t.deepEqual(sel(['chain']), ['chain', 'ctx-link', 'target.txt']);
  t.deepEqual(sel(['abs-dir-link']), ['abs-dir-link', 'real', 'real/in']);
  t.deepEqual(sel(['ctx-*']), ['ctx-link', 'target.txt']);
  t.deepEqual(sel(['pkg']), ['pkg', 'pkg/inner-link']);
});

test('a filtered context view keeps the mtimes of directories, symlinks and copied files (as BuildKit\'s context transfer; COPY carries them over)', async (t) => {
  const { lstat, lutimes } = await import('node:fs/promises');
  const { materializeEntries } = await import('../../src/context/materialize.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-view-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ctx = path.join(dir, 'ctx');
  await mkdir(path.join(ctx, 'tree/sub'), { recursive: true });
  await writeFile(path.join(ctx, 'tree/sub/f'), 'f');
  await symlink('sub/f', path.join(ctx, 'tree/link'));
  const old = new Date(1234567890 * 1000);
  for (const p of ['tree/sub/f', 'tree/link', 'tree/sub', 'tree']) await lutimes(path.join(ctx, p), old, old);
  const all = await createContextHasher({ contextDir: ctx, statCacheFile: path.join(dir, 'stat-cache.json') }).entries();
  for (const copy of [false, true]) {
    const view = path.join(dir, `view-${copy}`);
    await materializeEntries(ctx, selectEntries(all, ['tree']), view, { copy });
    for (const p of ['tree', 'tree/sub', 'tree/link', 'tree/sub/f']) t.is((await lstat(path.join(view, p))).mtimeMs, old.getTime(), `${p} (copy=${copy})`);
  }
});

test('a named pipe in the context is recreated in the filtered view (BuildKit sends it; COPY . makes a fifo)', async (t) => {
  const { lstat } = await import('node:fs/promises');
  const { execFileSync } = await import('node:child_process');
  const { materializeEntries } = await import('../../src/context/materialize.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-view-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ctx = path.join(dir, 'ctx');
  await mkdir(ctx);
  execFileSync('mkfifo', ['-m', '640', path.join(ctx, 'pipe')]);
  const all = await createContextHasher({ contextDir: ctx, statCacheFile: path.join(dir, 'stat-cache.json') }).entries();
  const view = path.join(dir, 'view');
  await materializeEntries(ctx, selectEntries(all, ['.']), view);
  const st = await lstat(path.join(view, 'pipe'));
  t.true(st.isFIFO());
  t.is(st.mode & 0o7777, 0o640);
});

test('the stat cache file: line format round-trips any path; an older format (ns times) or a malformed file throws', (t) => {
  const e = (n: number): StatCacheEntry => ({ size: n, mtimeMs: `${n}000.000001`, ctimeMs: `${n}000.5`, ino: `${n + 7}`, hash: sha256(String(n)).slice(7) });
  const paths = ['a.txt', 'dir/b c.txt', 'tab\there', 'new\nline', '"quoted"', 'back\\slash', 'ünï', ' lead'];
  const cache = new Map(paths.map((p, i) => [p, e(i)]));
  const text = formatStatCache(cache);
  t.true(text.startsWith('tsbuild-stat-cache 3\n'));
  const back = new Map<string, StatCacheEntry>();
  parseStatCache(text, back);
  t.deepEqual([...back], [...cache]);
  t.throws(() => parseStatCache(text.replace('cache 3', 'cache 2'), new Map()));
  t.throws(() => parseStatCache(JSON.stringify(Object.fromEntries(cache)), new Map()));
  t.throws(() => parseStatCache(text.slice(0, -5), new Map()));
  t.throws(() => parseStatCache('garbage', new Map()));
});

test('statOf: the walk\'s lstat of every included file and directory, nothing for excluded ones', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-checksum-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'src'), { recursive: true });
  await writeFile(path.join(dir, 'src/a.txt'), 'a');
  await writeFile(path.join(dir, 'skip.log'), 'x');
  const hasher = createContextHasher({ contextDir: dir, exclude: (rel) => rel.endsWith('.log') });
  t.is(hasher.statOf('src/a.txt'), undefined, 'nothing before the walk');
  await hasher.entries();
  t.true(hasher.statOf('src')!.isDirectory());
  t.is(hasher.statOf('src/a.txt')!.size, 1);
  t.is(hasher.statOf('skip.log'), undefined);
});
