/**
 * Registry authentication: anonymous, Basic, and the Bearer token flow driven by the
 * WWW-Authenticate challenge (realm, service, scope). Credentials come from
 * ~/.docker/config.json (`auths`, `credHelpers`, `credsStore`) and never appear in errors.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface Credentials {
  username: string;
  password: string;
  /**
   * An OAuth2 refresh token (`identitytoken` in config.json, or a helper answering with the
   * username `<token>`): exchanged at the token realm with a POST, as the docker CLI does.
   */
  identityToken?: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme, params };
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Keys docker uses for Docker Hub in config.json. */
const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

export interface CredentialStore {
  get(registry: string): Promise<Credentials | undefined>;
}

/** Reads credentials the way the docker CLI stores them. `configDir` defaults to $DOCKER_CONFIG or ~/.docker. */
export function createDockerCredentialStore(options: { configDir?: string; env?: NodeJS.ProcessEnv } = {}): CredentialStore {
  const env = options.env ?? {};
  const dir = options.configDir ?? env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.docker');
  let config: Promise<DockerConfig> | undefined;
  const load = (): Promise<DockerConfig> =>
    (config ??= readFile(path.join(dir, 'config.json'), 'utf8')
      .then((t) => JSON.parse(t) as DockerConfig)
      .catch(() => ({})));
  return {
    async get(registry) {
      const cfg = await load();
      const keys = registry === 'docker.io' ? HUB_KEYS : [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`];
      const helper = keys.map((k) => cfg.credHelpers?.[k]).find(Boolean) ?? cfg.credsStore;
      if (helper) {
        const fromHelper = await runCredentialHelper(helper, registry === 'docker.io' ? HUB_KEYS[0]! : registry).catch(() => undefined);
        if (fromHelper) return fromHelper;
      }
      for (const k of keys) {
        const a = cfg.auths?.[k];
        if (!a) continue;
        if (a.identitytoken) return { username: a.username ?? '', password: '', identityToken: a.identitytoken };
        if (a.username !== undefined && a.password !== undefined) return { username: a.username, password: a.password };
        if (a.auth) {
          const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
        }
      }
      return undefined;
    },
  };
}

/** `docker-credential-<helper> get` with the server URL on stdin, as the docker CLI calls it. */
function runCredentialHelper(helper: string, server: string): Promise<Credentials | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 10_000 }, (err, stdout) => {
      if (err) return reject(err);
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (out.Username === '<token>' && out.Secret) return resolve({ username: '', password: '', identityToken: out.Secret });
        resolve(out.Username !== undefined && out.Secret !== undefined ? { username: out.Username, password: out.Secret } : undefined);
      } catch (e) {
        reject(e);
      }
    });
    child.stdin?.end(server);
  });
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
