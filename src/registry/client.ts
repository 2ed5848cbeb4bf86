/**
 * An OCI distribution client: authenticated requests with retry, manifests, blobs, uploads.
 * The only network code in tsbuild. Loopback registries speak plain HTTP, as Docker does.
 */
import { Readable } from 'node:stream';
import { RegistryError, TsbuildError } from '../errors/index.js';
import { basicHeader, parseChallenge, type CredentialStore } from './auth.js';
import { networkReason, transport, type TransportInit } from '../util/http-transport.js';

export interface RepositoryRef {
  /** Registry host[:port]; `docker.io` for Docker Hub. */
  registry: string;
  repository: string;
}

export interface RegistryClientOptions {
  credentials?: CredentialStore;
  /** Extra hosts reached over plain HTTP. Loopback hosts always are. */
  insecureRegistries?: string[];
  /** Attempts for retryable failures (5xx, 429, dropped connections). */
  retries?: number;
  /** Base backoff in ms; doubles each attempt. */
  backoffMs?: number;
  userAgent?: string;
  /** Cancels every request, body and backoff wait of this client (the build's signal). */
  signal?: AbortSignal;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string | (() => Uint8Array | string | Readable);
  /** `pull` or `push,pull`. */
  actions?: string;
  /** Extra `repository:name:pull` scopes (cross-repository mounts). */
  extraScopes?: string[];
  /** Statuses that are not errors for this call. */
  ok?: number[];
  /** Retry on transient failures (only for requests whose body can be replayed). */
  retry?: boolean;
  redirect?: 'follow' | 'manual';
}

export interface RegistryClient {
  /** The signal given at creation: long loops over bodies check it too. */
  readonly signal?: AbortSignal;
  baseUrl(registry: string): string;
  request(ref: RepositoryRef, path: string, options?: RequestOptions): Promise<Response>;
}

/** Longest Retry-After we honour: a registry asking for more is treated as down. */
const MAX_RETRY_AFTER_MS = 60_000;
const retryAfter = new WeakMap<Error, number>();

/** Retry-After as delta-seconds or an HTTP date, in ms (capped); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/**
 * How long to wait before attempt `attempt` (1-based retry count) after `err`: exponential
 * backoff from `baseMs`, but never less than the Retry-After the registry sent with a 429/503.
 */
export function retryDelay(err: unknown, attempt: number, baseMs: number): number {
  const exp = baseMs * 2 ** Math.max(0, attempt - 1);
  const after = err instanceof Error ? retryAfter.get(err) : undefined;
  return Math.max(exp, after ?? 0);
}

/** Transient: a network failure or a 5xx/429 (from the registry or its token service). */
function retryable(err: TsbuildError): boolean {
  return err instanceof RegistryError && err.code === 'ERR_TSBUILD_REGISTRY_HTTP' && (err.status === undefined || err.status === 429 || err.status >= 500);
}

/** Throws ERR_TSBUILD_CANCELLED once `signal` has fired. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'registry transfer cancelled', { cause: signal.reason });
}

/** Waits `ms`, or rejects with ERR_TSBUILD_CANCELLED as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfCancelled(signal);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      try {
        throwIfCancelled(signal);
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const tokens = new Map<string, string>();
  const authorizing = new Map<string, Promise<string | undefined>>();
  const retries = options.retries ?? 5;
  const backoff = options.backoffMs ?? 200;
  const insecure = new Set(options.insecureRegistries ?? []);

  // `--insecure-registry` names a host with or without its port.
  const isInsecure = (host: string): boolean => insecure.has(host) || insecure.has(host.replace(/:\d+$/, ''));
  // An insecure registry is tried over HTTPS without verification first, then over plain HTTP
  // once a TLS handshake with it fails, as Docker does; the answer is kept for the process.
  const plainHttp = new Set<string>();
  const baseUrl = (registry: string): string => {
    const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    const scheme = LOOPBACK.test(host) || plainHttp.has(host) ? 'http' : 'https';
    return `${scheme}://${host}`;
  };

  const scopeKey = (ref: RepositoryRef, actions: string, extra: string[]): string => [ref.registry, `repository:${ref.repository}:${actions}`, ...extra].join(' ');

  const authorize = async (ref: RepositoryRef, challenge: ReturnType<typeof parseChallenge>, actions: string, extra: string[]): Promise<string | undefined> => {
    if (!challenge) return undefined;
    const creds = await options.credentials?.get(ref.registry);
    if (challenge.scheme === 'basic') return creds && !creds.identityToken ? basicHeader(creds) : undefined;
    const realm = challenge.params.realm;
    if (!realm) return undefined;
    const url = new URL(realm);
    const scopes = [`repository:${ref.repository}:${actions}`, ...extra];
    const shown = `${url.origin}${url.pathname}`;
    // The insecure setting holds for the registry's own host, also when it serves the tokens.
    const init: TransportInit = { ...(options.signal ? { signal: options.signal } : {}), ...(isInsecure(url.host) ? { insecureTls: true } : {}) };
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant, as the docker CLI sends an identity token (form POST).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'tsbuild', scope: scopes.join(' ') });
      if (challenge.params.service) form.set('service', challenge.params.service);
      Object.assign(init, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    } else {
      if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (creds) init.headers = { authorization: basicHeader(creds) };
    }
    const res = await transport(url, init).catch((cause) => {
      throw new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', `token request to ${shown}: ${networkReason(cause)}`, { url: shown }, { cause });
    });
    if (res.status === 429 || res.status >= 500) {
      // The auth service is down or busy, which is no verdict on the credentials: retried.
      await res.body?.cancel();
      const err = new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', `token request to ${shown}: ${res.status} ${res.statusText}`, { status: res.status, url: shown });
      const after = parseRetryAfter(res.headers.get('retry-after'));
      if (after !== undefined) retryAfter.set(err, after);
      throw err;
    }
    if (!res.ok) {
      throw new RegistryError('ERR_TSBUILD_REGISTRY_UNAUTHORIZED', `token server refused access to ${ref.registry}/${ref.repository} (${res.status})`, {
        status: res.status,
        url: `${url.origin}${url.pathname}`,
      });
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  };

  const request = async (ref: RepositoryRef, path: string, ro: RequestOptions = {}): Promise<Response> => {
    const actions = ro.actions ?? 'pull';
    const extra = ro.extraScopes ?? [];
    const key = scopeKey(ref, actions, extra);
    let url = path.startsWith('http') ? path : `${baseUrl(ref.registry)}/v2/${ref.repository}${path}`;
    let shownUrl = url.replace(/\?.*$/, '');
    const attempts = ro.retry === false ? 1 : retries;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(retryDelay(lastError, attempt, backoff), options.signal);
      throwIfCancelled(options.signal);
      try {
        const sent = tokens.get(key);
        let res = await send(url, ro, sent);
        if (res.status === 401) {
          // Concurrent requests share one token fetch; one that raced a finished fetch uses its result.
          const current = tokens.get(key);
          let pending = authorizing.get(key);
          if (!pending) {
            pending = current !== undefined && current !== sent ? Promise.resolve(current) : authorize(ref, parseChallenge(res.headers.get('www-authenticate')), actions, extra);
            authorizing.set(key, pending);
            void pending.catch(() => {}).finally(() => authorizing.delete(key));
          }
          const auth = await pending;
          if (auth) {
            tokens.set(key, auth);
            await res.body?.cancel();
            res = await send(url, ro, auth);
          }
        }
        if (res.status === 429 || res.status >= 500) {
          await res.body?.cancel();
          lastError = new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', `${ro.method ?? 'GET'} ${shownUrl}: ${res.status} ${res.statusText}`, { status: res.status, url: shownUrl });
          const after = parseRetryAfter(res.headers.get('retry-after'));
          if (after !== undefined) retryAfter.set(lastError as Error, after);
          continue;
        }
        if (res.ok || (ro.ok ?? []).includes(res.status) || (res.status >= 300 && res.status < 400 && ro.redirect === 'manual')) return res;
        await res.body?.cancel();
        if (res.status === 401 || res.status === 403) {
          throw new RegistryError('ERR_TSBUILD_REGISTRY_UNAUTHORIZED', `${ref.registry}/${ref.repository}: access denied (${res.status})`, { status: res.status, url: shownUrl });
        }
        if (res.status === 404) {
          throw new RegistryError('ERR_TSBUILD_REGISTRY_NOT_FOUND', `${ref.registry}/${ref.repository}: not found (${shownUrl})`, { status: 404, url: shownUrl });
        }
        throw new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', `${ro.method ?? 'GET'} ${shownUrl}: ${res.status} ${res.statusText}`, { status: res.status, url: shownUrl });
      } catch (err) {
        throwIfCancelled(options.signal);
        const host = new URL(url).host;
        if (!(err instanceof TsbuildError) && url.startsWith('https:') && isInsecure(host) && speaksPlainHttp(err)) {
          // Not a failed attempt: the same request, over the scheme this registry speaks.
          plainHttp.add(host);
          url = `http:${url.slice('https:'.length)}`;
          shownUrl = url.replace(/\?.*$/, '');
          attempt--;
          continue;
        }
        if (err instanceof TsbuildError && !retryable(err)) throw err;
        if (err instanceof TsbuildError) {
          lastError = err;
          continue;
        }
        // Network-level failure (reset, refused, dropped): retry.
        lastError = new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', `${ro.method ?? 'GET'} ${shownUrl}: ${networkReason(err)}`, { url: shownUrl }, { cause: err, ...tlsHint(url, err, ref.registry) });
      }
    }
    throw lastError;
  };

  const send = (url: string, ro: RequestOptions, auth: string | undefined): Promise<Response> => {
    const headers: Record<string, string> = { 'user-agent': options.userAgent ?? 'tsbuild/0.1', ...(ro.headers ?? {}) };
    if (auth) headers.authorization = auth;
    const body = typeof ro.body === 'function' ? ro.body() : ro.body;
    const init: TransportInit = { method: ro.method ?? 'GET', headers, redirect: ro.redirect ?? 'follow', insecureTls: isInsecure(new URL(url).host), ...(options.signal ? { signal: options.signal } : {}) };
    if (body !== undefined) init.body = body as string | Uint8Array | Readable;
    return transport(url, init);
  };

  return { ...(options.signal ? { signal: options.signal } : {}), baseUrl, request };
}


/**
 * What a failed HTTPS request says about the server: a certificate no trusted CA vouches for, or
 * a handshake that failed on its first record, which is what a plain HTTP server gives.
 */
function tlsFailure(err: unknown): { code: string; kind: 'certificate' | 'handshake' | undefined } {
  const code = (err as { cause?: { code?: string } }).cause?.code ?? '';
  return { code, kind: /CERT|UNABLE_TO/.test(code) ? 'certificate' : /SSL|TLS|EPROTO/.test(code) ? 'handshake' : undefined };
}

/** A failed handshake, or a server that hangs up on it: the registry speaks plain HTTP. */
function speaksPlainHttp(err: unknown): boolean {
  const { code, kind } = tlsFailure(err);
  return kind === 'handshake' || code === 'ECONNRESET';
}

function tlsHint(url: string, err: unknown, registry: string): { hint?: string } {
  const { code, kind } = tlsFailure(err);
  if (!url.startsWith('https:') || kind === undefined) return {};
  if (kind === 'certificate') {
    return { hint: `${registry} presented a certificate no trusted CA vouches for (${code}). Add its CA with NODE_EXTRA_CA_CERTS=FILE, or pass --insecure-registry ${registry} to skip verification.` };
  }
  return { hint: `TLS with ${registry} failed (${code}). If it serves plain HTTP, pass --insecure-registry ${registry} (or set TSBUILD_INSECURE_REGISTRIES).` };
}
