/**
 * HTTP for the registry client and ADD <url>: node:http/https with the subset of fetch() they
 * use. The global fetch() costs ~40 ms of CPU to load undici (and http2) the first time, a fifth
 * of a no-op rebuild, and in Node 20 it cannot take per-request TLS settings: the CA set of
 * NODE_EXTRA_CA_CERTS that bin/tsbuild defers (deferred-ca.ts), or skipping verification for
 * an `--insecure-registry` that serves HTTPS with a certificate nobody vouches for, as Docker does.
 *
 * Requests may carry a body (string, bytes, or a stream, sent chunked); redirects are followed
 * as fetch follows them (at most 20; 303 becomes a GET; the Authorization header is dropped
 * when the origin changes; a streamed body cannot be sent again, so a 307/308 answer to one is
 * an error). The answer behaves like the subset of `Response` the callers use (status, ok,
 * statusText, headers.get, body iteration and cancel, arrayBuffer, json, text), and errors look
 * like fetch's (`TypeError: fetch failed` with the socket error as cause).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { caContext } from './deferred-ca.js';

/** A body that can be iterated (chunks) or cancelled, like the web stream's subset we use. */
interface LiteBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

export interface TransportInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | AsyncIterable<Uint8Array> | null;
  redirect?: 'follow' | 'manual';
  signal?: AbortSignal;
  /** HTTPS without certificate verification (an insecure registry that serves TLS). */
  insecureTls?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
/** undici's default headers and body timeouts. */
const IDLE_TIMEOUT_MS = 300_000;

/** `fetch failed (ECONNREFUSED)`: the error with its socket-level reason, which is its cause. */
export function networkReason(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const detail = e.cause?.code ?? e.cause?.message;
  return detail ? `${e.message ?? 'network error'} (${detail})` : (e.message ?? String(err));
}

/** `fetch(url, init)` for http: and https: URLs, without undici. */
export async function transport(url: string | URL, init: TransportInit = {}): Promise<Response> {
  let u = typeof url === 'string' ? new URL(url) : url;
  let method = (init.method ?? 'GET').toUpperCase();
  let body = init.body ?? undefined;
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  for (let hops = 0; ; hops++) {
    const msg = await send(u, method, headers, body, init);
    const status = msg.statusCode ?? 0;
    const location = msg.headers.location;
    if (!REDIRECTS.has(status) || init.redirect === 'manual' || location === undefined) return liteResponse(msg, method, u.href) as unknown as Response;
    msg.destroy();
    if (hops >= MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
    const next = new URL(location, u);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TypeError('fetch failed', { cause: new Error(`redirect to ${next.protocol} URL`) });
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      for (const h of Object.keys(headers)) if (/^content-/i.test(h)) delete headers[h];
    } else if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new TypeError('fetch failed', { cause: new Error(`cannot follow a ${status} redirect with a streamed body`) });
    }
    if (next.origin !== u.origin) for (const h of Object.keys(headers)) if (/^(authorization|cookie)$/i.test(h)) delete headers[h];
    u = next;
  }
}

async function send(u: URL, method: string, headers: Record<string, string>, body: TransportInit['body'], init: TransportInit): Promise<IncomingMessage> {
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${u.protocol}`) });
  const https = u.protocol === 'https:';
  // Loaded on the first request (~5 ms for both): a cached build of a local base image makes none.
  const mod = https ? (await import('node:https')).default : (await import('node:http')).default;
  const secureContext = https ? await caContext() : undefined;
  const signal = init.signal;
  const tls = https ? { ...(secureContext ? { secureContext } : {}), ...(init.insecureTls ? { rejectUnauthorized: false } : {}) } : {};
  return new Promise<IncomingMessage>((resolve, reject) => {
    const fail = (err: Error & { name?: string }): void => {
      if (signal?.aborted || err.name === 'AbortError') reject(signal?.reason ?? err);
      else reject(new TypeError('fetch failed', { cause: err }));
    };
    const req: ClientRequest = mod.request(u, { method, headers, ...tls, ...(signal ? { signal } : {}) }, (msg) => {
      // An answer nobody reads (a 401 before a refused token request, an error thrown before
      // the body) must not keep the process alive, as undici's do not: the socket is unref'd
      // until its body is read (take() refs it again).
      msg.socket?.unref();
      resolve(msg);
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
    req.on('error', fail);
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else void writeStream(req, body).catch((err: Error) => req.destroy(err));
  });
}

/** Sends a streamed body chunk by chunk, waiting for the socket to drain. */
async function writeStream(req: ClientRequest, body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const chunk of body) {
    if (req.destroyed) return;
    if (!req.write(chunk)) await new Promise<void>((resolve) => {
      const done = (): void => {
        req.off('drain', done);
        req.off('close', done);
        resolve();
      };
      req.on('drain', done);
      req.on('close', done);
    });
  }
  req.end();
}

function liteResponse(msg: IncomingMessage, method: string, href: string) {
  const status = msg.statusCode ?? 0;
  const noBody = method === 'HEAD' || status === 204 || status === 304;
  let used = false;
  const take = (): AsyncIterable<Uint8Array> => {
    if (used) throw new TypeError('Body is unusable: Body has already been read');
    used = true;
    return {
      async *[Symbol.asyncIterator]() {
        msg.socket?.ref();
        try {
          for await (const chunk of msg) yield chunk as Uint8Array;
        } catch (err) {
          throw (err as Error).name === 'AbortError' ? err : new TypeError('terminated', { cause: err });
        } finally {
          // The reader stopped early (or failed): nothing else will read this body.
          if (!msg.complete) msg.destroy();
        }
        // A connection closed before the announced length is a broken body, as in fetch.
        if (!msg.complete) throw new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
      },
    };
  };
  if (noBody) msg.resume();
  const body: LiteBody | null = noBody
    ? null
    : {
        [Symbol.asyncIterator]: () => take()[Symbol.asyncIterator](),
        cancel: async () => {
          used = true;
          msg.destroy();
        },
      };
  const bytes = async (): Promise<Buffer> => {
    if (!body) return Buffer.alloc(0);
    const chunks: Uint8Array[] = [];
    for await (const c of take()) chunks.push(c);
    return Buffer.concat(chunks);
  };
  return {
    status,
    statusText: msg.statusMessage ?? '',
    ok: status >= 200 && status < 300,
    url: href,
    headers: {
      get(name: string): string | null {
        const v = msg.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : String(v);
      },
      has: (name: string): boolean => msg.headers[name.toLowerCase()] !== undefined,
    },
    body,
    get bodyUsed() {
      return used;
    },
    arrayBuffer: async (): Promise<ArrayBuffer> => {
      const b = await bytes();
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
    text: async (): Promise<string> => (await bytes()).toString('utf8'),
    json: async (): Promise<unknown> => JSON.parse((await bytes()).toString('utf8')),
  };
}
