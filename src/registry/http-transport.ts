/**
 * The registry client's transport. Bodiless GET and HEAD requests (manifests, blobs, token
 * requests, existence checks: everything a pull does) go through node:http/https, loaded on
 * the first request; the first global `fetch()` of a process costs ~40 ms of CPU to load undici
 * (and http2), which was a fifth of a no-op rebuild, where the only request is the manifest of
 * the base image's tag. Requests with bodies (uploads), and redirects to follow, use `fetch`.
 *
 * The answer behaves like the subset of `Response` the registry code uses (status, ok,
 * statusText, headers.get, body iteration and cancel, arrayBuffer, json, text), and errors look
 * like fetch's (`TypeError: fetch failed` with the socket error as cause), so messages and
 * retries are the same whichever path a request took.
 */
import type { IncomingMessage } from 'node:http';
import { applyDeferredCaCerts } from '../util/deferred-ca.js';

/** A body that can be iterated (chunks) or cancelled, like the web stream's subset we use. */
interface LiteBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** undici's default headers and body timeouts. */
const IDLE_TIMEOUT_MS = 300_000;

/** `fetch(url, init)`, without loading undici when the request has no body. */
export async function transport(url: string | URL, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase();
  // fetch may follow a redirect to https whatever the first URL was.
  if ((method !== 'GET' && method !== 'HEAD') || init.body !== undefined && init.body !== null) return applyDeferredCaCerts().then(() => fetch(url, init));
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return fetch(url, init);
  if (u.protocol === 'https:') await applyDeferredCaCerts();
  // Loaded on the first request (~5 ms for both): a cached build of a local base image makes none.
  const mod = u.protocol === 'https:' ? (await import('node:https')).default : (await import('node:http')).default;
  return new Promise<Response>((resolve, reject) => {
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>));
    const signal = init.signal ?? undefined;
    const req = mod.request(u, { method, headers, ...(signal ? { signal } : {}) }, (msg) => {
      const status = msg.statusCode ?? 0;
      if (REDIRECTS.has(status) && init.redirect !== 'manual') {
        // Following (dropping credentials across origins, etc.) is fetch's job.
        msg.destroy();
        applyDeferredCaCerts()
          .then(() => fetch(url, init))
          .then(resolve, reject);
        return;
      }
      // An answer nobody reads (a 401 before a refused token request, an error thrown before
      // the body) must not keep the process alive, as undici's do not: the socket is unref'd
      // until its body is read (take() refs it again).
      msg.socket?.unref();
      resolve(liteResponse(msg, method, u.href) as unknown as Response);
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
    req.on('error', (err: Error & { name?: string }) => {
      if (signal?.aborted || err.name === 'AbortError') reject(signal?.reason ?? err);
      else reject(new TypeError('fetch failed', { cause: err }));
    });
    req.end();
  });
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
