/**
 * The peer lab (../shared/peers/README.md) as seen from a test: is it up, build a context with
 * BuildKit (Docker 26) and with tsbuild into image tarballs. Children are spawned asynchronously
 * so several cases' builds can overlap.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..', '..');
const DOCKER = '/usr/bin/docker';
export const LAB_REGISTRY = '127.0.0.1:5000';

/** Why the lab cannot be used here, or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  if (!existsSync('/var/run/docker.sock')) return 'no /var/run/docker.sock (the peer lab is not running on this machine)';
  if (!existsSync(DOCKER)) return `no ${DOCKER}`;
  try {
    await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { timeout: 10_000 });
  } catch (e) {
    return `dockerd does not answer: ${(e as Error).message.split('\n')[0]}`;
  }
  try {
    const res = await fetch(`http://${LAB_REGISTRY}/v2/busybox/tags/list`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return `lab registry answered ${res.status}`;
  } catch (e) {
    return `lab registry ${LAB_REGISTRY} is down: ${(e as Error).message}`;
  }
  return undefined;
}

/** `docker build` (BuildKit) then `docker save` (an OCI layout + manifest.json in Docker 26). The image is removed afterwards. */
export async function buildWithBuildKit(context: string, tag: string, out: string, flags: string[] = []): Promise<void> {
  const env = { ...process.env, DOCKER_BUILDKIT: '1' };
  try {
    // --no-cache: a cached result would carry the mtimes of an earlier run's context (BuildKit's
    // cache keys ignore mtimes), and mtimes carried over from inputs are compared.
    await run(DOCKER, ['build', '--no-cache', '--network=none', '-q', ...flags, '-t', tag, context], { env, maxBuffer: 16 << 20 });
    await run(DOCKER, ['save', '-o', out, tag], { env });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`docker build of ${context} failed: ${err.stderr ?? err.message}`);
  } finally {
    await run(DOCKER, ['rmi', '-f', tag], { env }).catch(() => undefined);
  }
}

/** `tsbuild build -o type=oci` with a shared state root (so the base is pulled once); no network, like the lab's BuildKit. */
export async function buildWithTsbuild(context: string, root: string, out: string, flags: string[] = []): Promise<void> {
  try {
    await run(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'build', '--progress=plain', '--network=none', ...flags, '-o', `type=oci,dest=${out}`, context], {
      // No SOURCE_DATE_EPOCH from the caller's environment: docker build does not read it either.
      env: { ...process.env, TSBUILD_ROOT: root, SOURCE_DATE_EPOCH: '' },
      maxBuffer: 16 << 20,
    });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`tsbuild build of ${context} failed: ${err.stderr ?? err.message}`);
  }
}
