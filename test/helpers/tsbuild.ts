/**
 * Drives the built CLI the way users do, with a private state root per test and a busybox
 * base image made from Debian's busybox-static (scripts/busybox-rootfs.sh).
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

const repo = path.resolve(import.meta.dirname, '..', '..');
const bin = path.join(repo, 'bin', 'tsbuild.js');
let rootfsTar: string | undefined;

/** The busybox rootfs tarball, made once per test process. */
export function busyboxTar(): string {
  if (rootfsTar && existsSync(rootfsTar)) return rootfsTar;
  const dir = path.join(os.tmpdir(), `tsbuild-test-busybox-${process.pid}`);
  execFileSync('mkdir', ['-p', dir]);
  rootfsTar = path.join(dir, 'busybox.tar');
  execFileSync('bash', [path.join(repo, 'scripts', 'busybox-rootfs.sh'), rootfsTar]);
  process.once('exit', () => execFileSync('rm', ['-rf', dir]));
  return rootfsTar;
}

export interface Harness {
  root: string;
  tmp: string;
  run(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string>;
  /**
   * Like run, without blocking this process: needed when a server living in the test process
   * (fault proxy, token server) must answer the CLI. The child is killed at teardown if still alive.
   */
  runAsync(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }>;
  /** Runs and fails the test on a non-zero exit. */
  ok(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): string;
  /** A copy of a fixture project in a temp dir. */
  fixture(name: string): Promise<string>;
}

export async function createHarness(t: ExecutionContext, options: { busybox?: boolean } = {}): Promise<Harness> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-e2e-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const root = path.join(tmp, 'state');
  const run: Harness['run'] = (args, opts = {}) =>
    spawnSync(process.execPath, [bin, ...args], {
      cwd: opts.cwd ?? tmp,
      encoding: 'utf8',
      env: { ...process.env, TSBUILD_ROOT: root, ...(opts.env ?? {}) },
      maxBuffer: 64 * 1024 * 1024,
    });
  const runAsync: Harness['runAsync'] = (args, opts = {}) =>
    runCommand(t, process.execPath, [bin, ...args], { cwd: opts.cwd ?? tmp, env: { ...process.env, TSBUILD_ROOT: root, ...(opts.env ?? {}) } });
  const h: Harness = {
    root,
    tmp,
    run,
    runAsync,
    ok(args, opts) {
      const r = run(args, opts);
      if (r.status !== 0) t.fail(`tsbuild ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
      return r.stdout;
    },
    async fixture(name) {
      const dest = path.join(tmp, name);
      await cp(path.join(repo, 'fixtures', name), dest, { recursive: true });
      return dest;
    },
  };
  // A fixed creation time makes the base image identical across state roots.
  if (options.busybox !== false) h.ok(['image', 'import', busyboxTar(), 'busybox:latest'], { env: { SOURCE_DATE_EPOCH: '0' } });
  return h;
}

/**
 * Runs any command without blocking this process (a server in the test process may have to
 * answer it) and collects its output; killed at teardown if still alive.
 */
export function runCommand(t: ExecutionContext, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Progress events from a `--progress=rawjson` run. */
export function events(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Names of the steps that actually executed (not cached). */
export function executed(stderr: string): string[] {
  return events(stderr)
    .filter((e) => e.type === 'vertex.start')
    .map((e) => String(e.name));
}

/**
 * The dir under <root>/snapshots/layers holding the layer with `diffId`: a layer unpacked from a
 * blob is named by its diff_id; one a build made is named by its own id, and the tar made for it
 * later (solver/pending-layers.ts) is recorded in cache/layer-diffs/<id>.json.
 */
export function layerDirOf(root: string, diffId: string): string {
  const layers = path.join(root, 'snapshots', 'layers');
  const diffs = path.join(root, 'cache', 'layer-diffs');
  for (const n of existsSync(diffs) ? readdirSync(diffs) : []) {
    if (n.endsWith('.json') && (JSON.parse(readFileSync(path.join(diffs, n), 'utf8')) as { diffId: string }).diffId === diffId) return path.join(layers, n.slice(0, -5));
  }
  return path.join(layers, diffId.slice('sha256:'.length));
}

/** A build context under the test's temp dir: `files` maps context paths to their text (a Dockerfile among them). */
export async function writeProject(h: Harness, name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(h.tmp, name);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

export { repo };
