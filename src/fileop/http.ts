/**
 * Downloads an ADD <url> source into a directory, as BuildKit's source.http does: the file is
 * written with mode 0600, its mtime taken from Last-Modified, its name from Content-Disposition
 * or the last URL path segment ("index" when empty), and an expected sha256 is verified before
 * the file is kept.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, utimes, chmod } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import type { Digest } from '../util/index.js';
import { networkReason, transport } from '../util/http-transport.js';

/** What to fetch. */
export interface HttpSourceSpec {
  url: string;
  /** Expected sha256 digest (`sha256:<hex>`). */
  checksum?: Digest;
  /** File name override. */
  filename?: string;
}

function fileNameFor(url: URL, disposition: string | null): string {
  const m = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition) : null;
  const fromHeader = m?.[1] ? path.posix.basename(decodeURIComponent(m[1])) : '';
  if (fromHeader && fromHeader !== '.' && fromHeader !== '..') return fromHeader;
  const seg = path.posix.basename(decodeURIComponent(url.pathname));
  return seg && seg !== '/' && seg !== '.' && seg !== '..' ? seg : 'index';
}

/** Fetches `spec.url` into `destDir`; returns the stored file and its sha256 digest. */
export async function fetchHttpSource(ctx: BuildContext, spec: HttpSourceSpec, destDir: string): Promise<{ file: string; digest: Digest }> {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch (e) {
    throw new TsbuildError('ERR_TSBUILD_HTTP_FETCH', `invalid URL ${spec.url}`, { cause: e });
  }
  let res: Response;
  try {
    res = await transport(url, { signal: ctx.signal, redirect: 'follow' });
  } catch (e) {
    if (ctx.signal.aborted) throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'download cancelled', { cause: e });
    throw new TsbuildError('ERR_TSBUILD_HTTP_FETCH', `GET ${spec.url}: ${networkReason(e)}`, { cause: e });
  }
  if (!res.ok) throw new TsbuildError('ERR_TSBUILD_HTTP_FETCH', `GET ${spec.url}: HTTP ${res.status}`);
  // Stream to a temp file while hashing: downloads can be larger than memory.
  const name = spec.filename ?? fileNameFor(url, res.headers.get('content-disposition'));
  const file = path.join(destDir, name);
  const tmp = path.join(destDir, `.${name}.tmp-${process.pid}`);
  const hash = createHash('sha256');
  let digest: Digest;
  try {
    if (!res.body) throw new TsbuildError('ERR_TSBUILD_HTTP_FETCH', `GET ${spec.url}: empty response`);
    const body = Readable.from(res.body as unknown as AsyncIterable<Uint8Array>);
    body.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
    digest = `sha256:${hash.digest('hex')}` as Digest;
    if (spec.checksum && spec.checksum !== digest) {
      throw new TsbuildError('ERR_TSBUILD_HTTP_CHECKSUM', `${spec.url}: expected ${spec.checksum}, got ${digest}`);
    }
    await chmod(tmp, 0o600);
    // The server's Last-Modified, else the epoch, as BuildKit's HTTP source does (compat add-url).
    const lm = res.headers.get('last-modified');
    const t = lm ? new Date(lm) : undefined;
    const mtime = t && !Number.isNaN(t.getTime()) ? t : new Date(0);
    await utimes(tmp, mtime, mtime);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof TsbuildError) throw e;
    if (ctx.signal.aborted) throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'download cancelled', { cause: e });
    throw new TsbuildError('ERR_TSBUILD_HTTP_FETCH', `GET ${spec.url} failed while reading`, { cause: e });
  }
  return { file, digest };
}
