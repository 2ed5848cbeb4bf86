/**
 * Real registries for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a
 * free port and a temporary storage dir, optionally behind htpasswd Basic auth or the Bearer
 * token flow (a small token server here plays the auth service), and a fault-injecting proxy.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface TestRegistry {
  /** host:port */
  host: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** For a TLS registry, whose certificate the test process does not trust: the port accepting connections. */
async function waitForPort(host: string, port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`registry exited early: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`registry did not start: ${log()}`);
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`registry exited early: ${log()}`);
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`registry did not start: ${log()}`);
}

export interface RegistryOptions {
  /** Address to listen on (default 127.0.0.1); `host` is reported with it. */
  listen?: string;
  htpasswd?: { user: string; password: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Serve HTTPS with this key and certificate (PEM files). */
  tls?: { key: string; cert: string };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-'));
  const port = await freePort();
  const listen = options.listen ?? '127.0.0.1';
  let auth = '';
  if (options.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    const line = execFileSync('htpasswd', ['-Bbn', options.htpasswd.user, options.htpasswd.password], { encoding: 'utf8' }).trim();
    await writeFile(file, `${line}\n`);
    auth = `auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: ${file}\n`;
  } else if (options.token) {
    auth = `auth:\n  token:\n    realm: ${options.token.realm}\n    service: ${options.token.service}\n    issuer: ${options.token.issuer}\n    rootcertbundle: ${options.token.rootCertBundle}\n`;
  }
  const config = path.join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${listen}:${port}\n${options.tls ? `  tls:\n    certificate: ${options.tls.cert}\n    key: ${options.tls.key}\n` : ''}${auth}`,
  );
  let output = '';
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  if (options.tls) await waitForPort(listen, port, child, () => output);
  else await waitForHttp(`http://${listen}:${port}/v2/`, child, () => output);
  return {
    host: `${listen}:${port}`,
    async stop() {
      // Idempotent: a test may stop the registry early and teardown stops it again (a killed
      // child has a signalCode, not an exitCode).
      const exited = () => child.exitCode !== null || child.signalCode !== null;
      if (!exited()) child.kill('SIGTERM');
      await new Promise((r) => (exited() ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * A token server for the Bearer flow: issues RS256 JWTs signed by a throwaway key whose
 * self-signed certificate the registry trusts. Checks Basic credentials when given (GET), or
 * the OAuth2 refresh token (POST, for identity tokens); refuses requests asking for a scope
 * that `deny` matches.
 */
export async function startTokenServer(options: { user?: string; password?: string; deny?: RegExp; refreshToken?: string } = {}): Promise<{
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  requests: string[];
  stop(): Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-token-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=tsbuild-test-token'], { stdio: 'ignore' });
  const keyPem = await readFile(keyFile, 'utf8');
  const certDer = Buffer.from((await readFile(certFile, 'utf8')).replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const service = 'tsbuild-test-registry';
  const issuer = 'tsbuild-test-issuer';
  const requests: string[] = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST') {
      // OAuth2 refresh-token grant: the form's fields stand in for the query parameters.
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      requests.push(`POST ${body}`);
      if (form.get('grant_type') !== 'refresh_token' || options.refreshToken === undefined || form.get('refresh_token') !== options.refreshToken) {
        res.writeHead(401).end();
        return;
      }
      for (const scope of (form.get('scope') ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', scope);
    } else {
      requests.push(url.search);
    }
    if (options.user !== undefined && req.method !== 'POST') {
      const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
    }
    // Like token services that refuse a whole request when one scope is not granted.
    if (options.deny && url.searchParams.getAll('scope').some((s) => options.deny!.test(s))) {
      res.writeHead(401).end();
      return;
    }
    const access = url.searchParams.getAll('scope').map((s) => {
      const [type, name, actions] = [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)];
      return { type, name, actions: actions.split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: options.user ?? 'anonymous', aud: service, exp: now + 600, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(keyPem);
    const token = `${input}.${b64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.method === 'POST' ? { access_token: token } : { token }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certFile,
    requests,
    async stop() {
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Faults {
  /** Only requests whose `METHOD path` matches are faulted (default: all), e.g. /^PATCH / or /GET .*\/blobs\//. */
  match?: RegExp;
  /** The first N matching requests get a 500. */
  fail500?: number;
  /** The first N matching requests (after the 500s) get a 429 with `Retry-After: retryAfter`. */
  status429?: number;
  retryAfter?: number;
  /** The first N blob downloads (GET) are cut off halfway through the body. */
  drop?: number;
  /** The first N blob uploads (PATCH/PUT with a body) are cut off halfway through the request body. */
  dropUpload?: number;
  /** Strip Range headers, like a registry or CDN that always answers with the whole blob. */
  ignoreRange?: boolean;
  /** Delay before each blob download answers (makes concurrent downloads observable). */
  latencyMs?: number;
}

export interface FaultProxy {
  host: string;
  hits: { failed: number; throttled: number; dropped: number; droppedUploads: number; maxConcurrentBlobGets: number };
  /** Every request seen, in arrival order, with the status it got (0 when cut off). */
  log: Array<{ method: string; url: string; time: number; status?: number; range?: string }>;
  stop(): Promise<void>;
}

/**
 * A proxy in front of a registry that injects faults: 500s, 429s with Retry-After, and
 * connections dropped in the middle of a blob, downloads and uploads alike.
 */
export async function startFaultProxy(target: string, faults: Faults): Promise<FaultProxy> {
  const hits = { failed: 0, throttled: 0, dropped: 0, droppedUploads: 0, maxConcurrentBlobGets: 0 };
  const log: FaultProxy['log'] = [];
  const match = faults.match ?? /./;
  let blobGets = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const entry: FaultProxy['log'][number] = { method: req.method ?? 'GET', url, time: Date.now(), ...(req.headers.range ? { range: req.headers.range } : {}) };
    log.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    const matched = match.test(`${req.method} ${url}`);
    if (matched && hits.failed < (faults.fail500 ?? 0)) {
      hits.failed++;
      req.resume();
      res.writeHead(500).end('injected failure');
      return;
    }
    if (matched && hits.throttled < (faults.status429 ?? 0)) {
      hits.throttled++;
      req.resume();
      res.writeHead(429, faults.retryAfter !== undefined ? { 'retry-after': String(faults.retryAfter) } : {}).end('injected throttling');
      return;
    }
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(url);
    const uploadLength = Number(req.headers['content-length'] ?? 0);
    const dropUpload = matched && (req.method === 'PATCH' || req.method === 'PUT') && /\/blobs\/uploads\//.test(url) && uploadLength > 0 && hits.droppedUploads < (faults.dropUpload ?? 0);
    if (dropUpload) hits.droppedUploads++;
    const forward = (): void => {
      // The Host header goes through unchanged: the registry builds upload Locations from it, and
      // they must point back at the proxy, or uploads would bypass the faults.
      const headers = { ...req.headers };
      if (faults.ignoreRange) delete headers.range;
      const upstream = http.request({ host: target.split(':')[0], port: Number(target.split(':')[1]), path: url, method: req.method, headers }, (up) => {
        const dropThis = matched && isBlobGet && hits.dropped < (faults.drop ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!dropThis) {
          up.pipe(res);
          return;
        }
        hits.dropped++;
        const total = Number(up.headers['content-length'] ?? 0);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent + chunk.length >= total / 2) {
            res.write(chunk.subarray(0, Math.max(0, Math.floor(total / 2) - sent)));
            res.socket?.destroy();
            up.destroy();
            return;
          }
          sent += chunk.length;
          res.write(chunk);
        });
      });
      upstream.on('error', () => res.destroy());
      if (!dropUpload) {
        req.pipe(upstream);
        return;
      }
      // Forward the first half of the body, then cut both connections: the registry holds a
      // partial upload, the client sees its connection die mid-request.
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        if (received + chunk.length >= uploadLength / 2) {
          upstream.write(chunk.subarray(0, Math.max(0, Math.floor(uploadLength / 2) - received)));
          req.socket.destroy();
          upstream.destroy();
          return;
        }
        received += chunk.length;
        upstream.write(chunk);
      });
    };
    if (!isBlobGet) return forward();
    blobGets++;
    hits.maxConcurrentBlobGets = Math.max(hits.maxConcurrentBlobGets, blobGets);
    res.on('close', () => blobGets--);
    if (faults.latencyMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        forward();
      }, faults.latencyMs);
      timers.add(timer);
    } else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    hits,
    log,
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
