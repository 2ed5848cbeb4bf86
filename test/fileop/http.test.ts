/** ADD <url>: download from a real HTTP server on loopback, checksum verification, mode and mtime. */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Digest } from '../../src/graph/index.js';
import { nullProgress } from '../../src/progress/index.js';
import { fetchHttpSource } from '../../src/fileop/index.js';
import { tempDir } from './tree.js';

const BODY = Buffer.from('remote payload\n');
const SHA = `sha256:${createHash('sha256').update(BODY).digest('hex')}` as Digest;
const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';
const ctx = () => ({ signal: new AbortController().signal, progress: nullProgress });

async function serve(): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/files/app.txt') {
      res.writeHead(200, { 'Last-Modified': LAST_MODIFIED, 'Content-Type': 'text/plain' });
      res.end(BODY);
    } else if (req.url === '/download?id=3') {
      res.writeHead(200, { 'Content-Disposition': 'attachment; filename="named.bin"' });
      res.end(BODY);
    } else if (req.url === '/moved') {
      res.writeHead(302, { Location: '/files/app.txt' });
      res.end();
    } else {
      res.writeHead(404);
      res.end('no');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('http: download with matching checksum, mode 0600, mtime from Last-Modified', async (t) => {
  const { base, server } = await serve();
  const d = await tempDir('http');
  try {
    const r = await fetchHttpSource(ctx(), { url: `${base}/files/app.txt`, checksum: SHA }, d.dir);
    t.is(r.file, path.join(d.dir, 'app.txt'));
    t.is(r.digest, SHA);
    t.deepEqual(await readFile(r.file), BODY);
    const st = await stat(r.file);
    t.is(st.mode & 0o7777, 0o600);
    t.is(st.mtime.getTime(), Date.parse(LAST_MODIFIED));
  } finally {
    server.close();
    await d.cleanup();
  }
});

test('http: checksum mismatch is refused and nothing is kept', async (t) => {
  const { base, server } = await serve();
  const d = await tempDir('http');
  try {
    const wrong = ('sha256:' + '0'.repeat(64)) as Digest;
    const err = await t.throwsAsync(fetchHttpSource(ctx(), { url: `${base}/files/app.txt`, checksum: wrong }, d.dir));
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_HTTP_CHECKSUM');
    t.deepEqual(await readdir(d.dir), []);
  } finally {
    server.close();
    await d.cleanup();
  }
});

test('http: file name from Content-Disposition, redirects followed, 404 is an error', async (t) => {
  const { base, server } = await serve();
  const d = await tempDir('http');
  try {
    const named = await fetchHttpSource(ctx(), { url: `${base}/download?id=3` }, d.dir);
    t.is(path.basename(named.file), 'named.bin');
    const moved = await fetchHttpSource(ctx(), { url: `${base}/moved` }, d.dir);
    t.is(moved.digest, SHA);
    const err = await t.throwsAsync(fetchHttpSource(ctx(), { url: `${base}/missing` }, d.dir));
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_HTTP_FETCH');
  } finally {
    server.close();
    await d.cleanup();
  }
});
