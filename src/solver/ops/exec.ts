/**
 * RUN: resolve the user in the input filesystem, prepare mounts, run the sandbox on a fresh
 * overlay snapshot, and commit the upper dir as the step's layer.
 */
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acquireLock } from '../../cache/index.js';
import type { CacheMount, ExecOp, Vertex } from '../../graph/index.js';
import type { BuildContext } from '../../progress/index.js';
import { StepError, TsbuildError } from '../../errors/index.js';
import { createSandboxSpec, hostResolvConf, runSandbox, type SandboxMount } from '../../sandbox/index.js';
import { typeInLayers } from '../../snapshot/index.js';
import type { Digest } from '../../util/digest.js';
import { cacheMountName } from './cache-mount-path.js';
import type { LayerRef, StepStats, VertexResult } from '../types.js';
import type { SolverEnvironment } from './environment.js';
import { resolveUserInLayers } from './layered-user.js';

const TAIL_LINES = 20;

export async function runExec(
  ctx: BuildContext,
  env: SolverEnvironment,
  vertex: Vertex & { op: ExecOp },
  inputs: Map<Digest, VertexResult>,
  stats: StepStats,
): Promise<LayerRef> {
  const op = vertex.op;
  const root = inputs.get(op.root);
  if (!root) throw new TsbuildError('ERR_TSBUILD_INTERNAL', `exec ${vertex.digest} has no root input`);
  const lower = await env.layerDirs(ctx, root.layers);
  const active = await env.prepareSnapshot(lower);
  const releases: Array<() => Promise<unknown>> = [];
  try {
    const user = await resolveUserInLayers(lower, op.user);
    const mounts: SandboxMount[] = [];
    for (const m of op.mounts) {
      switch (m.type) {
        case 'bind': {
          const input = inputs.get(m.input)!;
          let base = input.dir;
          const from = env.graphVertex(m.input);
          if (from?.op.kind === 'source.local') {
            // Never the context itself: only what .dockerignore lets through, owned by root as the
            // context transfer of docker/buildx makes it, and `rw` writes land in a throwaway copy.
            const view = await env.filteredContext(from.op.name, [m.source], { copy: true });
            releases.push(() => rm(view, { recursive: true, force: true }));
            base = view;
          } else if (base === undefined && !m.readonly) {
            // `rw`: the step may write into the mount; the writes land in a throwaway snapshot
            // over the input and are dropped afterwards, as BuildKit does.
            const scratch = await env.prepareSnapshot(await env.layerDirs(ctx, input.layers));
            const dir = path.join(scratch.upper, '..', 'rw-bind');
            const unmount = await env.mountSnapshot(scratch, dir);
            releases.push(async () => {
              await unmount();
              await scratch.dispose();
            });
            base = dir;
          } else if (base === undefined) {
            const ro = await env.mountReadOnly(ctx, input.layers);
            releases.push(ro.release);
            base = ro.dir;
          }
          mounts.push({ kind: 'bind', source: path.join(base, path.posix.normalize(`/${m.source}`)), target: m.target, readonly: m.readonly });
          break;
        }
        case 'cache': {
          const dir = await cacheMountDir(ctx, env.stateRoot, m, releases);
          // mkdir's mode is filtered by the umask: set the requested mode explicitly on creation.
          if ((await mkdir(dir, { recursive: true })) !== undefined) await chmod(dir, m.mode);
          // chown on every use also moves the dir's ctime, which prune reads as its last use.
          await chown(dir, m.uid, m.gid);
          mounts.push({ kind: 'bind', source: dir, target: m.target, readonly: m.readonly });
          break;
        }
        case 'tmpfs':
          mounts.push({ kind: 'tmpfs', target: m.target, size: m.size });
          break;
        case 'secret': {
          const value = env.secrets.get(m.id);
          if (value === undefined) {
            if (m.required) throw new TsbuildError('ERR_TSBUILD_SECRET_NOT_FOUND', `secret ${m.id} not found`);
            break;
          }
          if (m.target !== undefined || m.env === undefined) {
            // Secrets live in a private temp dir outside every snapshot and are bound read-only,
            // so they never reach a layer; the dir is removed when the step ends.
            const dir = await mkdtemp(path.join(env.tmpDir ?? os.tmpdir(), 'tsbuild-secret-'));
            releases.push(() => rm(dir, { recursive: true, force: true }));
            const file = path.join(dir, 'secret');
            await writeFile(file, value, { mode: 0o400 });
            await chown(file, m.uid, m.gid);
            await chmod(file, m.mode);
            mounts.push({ kind: 'bind', source: file, target: m.target ?? `/run/secrets/${m.id}`, readonly: true });
          }
          break;
        }
        case 'ssh':
          if (m.required) throw new TsbuildError('ERR_TSBUILD_SECRET_NOT_FOUND', `ssh agent ${m.id} is not available`);
          break;
      }
    }
    // Mount points the runtime creates for targets missing from the image are not the step's
    // output: note them now and remove the ones still empty before the layer is committed.
    const viewBefore = active.kind === 'copy' ? [active.upper] : active.lower;
    const stubs: string[] = [];
    for (const m of op.mounts) {
      const target = m.type === 'secret' ? (m.target ?? (m.env === undefined ? `/run/secrets/${m.id}` : undefined)) : m.type === 'ssh' ? undefined : m.target;
      if (target !== undefined) stubs.push(...missingPaths(viewBefore, target));
    }
    const secretEnv = op.mounts.flatMap((m) =>
      m.type === 'secret' && m.env !== undefined && env.secrets.has(m.id) ? [`${m.env}=${env.secrets.get(m.id)!.toString('utf8')}`] : [],
    );
    const spec = createSandboxSpec({
      rootfs: active.kind === 'copy' ? { kind: 'dir', path: active.upper } : { kind: 'overlay', lower: active.lower, upper: active.upper, work: active.work },
      args: op.args,
      env: [...op.env, ...env.proxyEnv, ...secretEnv],
      cwd: op.cwd,
      user,
      // The planner gave a RUN without --network the build's --network; a RUN's own flag wins
      // (Docker 26 lab: `build --network host` with `RUN --network=none` leaves loopback alone).
      network: op.network,
      mounts,
      hostResolvConf: await hostResolvConf(),
      // Only reached with the security.insecure entitlement (api.ts checks before the build).
      privileged: op.security === 'insecure',
    });
    const tail: string[] = [];
    let partial = '';
    const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const data = chunk.toString('utf8');
      ctx.progress.emit({ type: 'vertex.log', time: Date.now(), vertex: vertex.digest, stream, data });
      const lines = (partial + data).split('\n');
      partial = lines.pop() ?? '';
      tail.push(...lines);
      if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
    };
    const result = await runSandbox(ctx, spec, { onStdout: onData('stdout'), onStderr: onData('stderr'), onStart: () => env.idle?.() });
    if (result.cpuMs !== undefined) stats.cpuMs = result.cpuMs;
    if (partial) tail.push(partial);
    if (result.exitCode !== 0) {
      const shown = op.args.length >= 3 && op.args[1] === '-c' ? op.args.slice(2).join(' ') : JSON.stringify(op.args);
      throw new StepError(
        'ERR_TSBUILD_RUN_EXIT_CODE',
        `${vertex.meta.name}: process "${shown}" did not complete successfully: exit code: ${result.exitCode}`,
        { vertex: vertex.digest, step: vertex.meta.name, exitCode: result.exitCode, outputTail: tail, ...(vertex.meta.location ? { location: vertex.meta.location } : {}) },
      );
    }
    for (const release of releases.splice(0).reverse()) await release();
    await removeStubs(active.upper, stubs);
    const layer = await env.commitLayer(ctx, active, stats);
    stats.layer = layer;
    return layer;
  } finally {
    for (const release of releases.reverse()) await release().catch(() => {});
    await active.dispose();
  }
}

/**
 * The host dir of a cache mount. `locked` waits for the one instance; `private` takes the first
 * instance no other step holds (making a new one when all are busy), as BuildKit does; `shared`
 * uses the first instance without locking. Held locks are released with the step.
 */
async function cacheMountDir(ctx: BuildContext, stateRoot: string, m: CacheMount, releases: Array<() => Promise<unknown>>): Promise<string> {
  const name = cacheMountName(m.id);
  const dirOf = (n: string): string => path.join(stateRoot, 'cache-mounts', n);
  if (m.sharing === 'shared') return dirOf(name);
  if (m.sharing === 'locked') {
    releases.push(await acquireLock(stateRoot, `cache-mount-${name}`, { signal: ctx.signal }));
    return dirOf(name);
  }
  for (let i = 0; ; i++) {
    const n = i === 0 ? name : `${name}-${i}`;
    const release = await acquireLock(stateRoot, `cache-mount-${n}`, { timeoutMs: 0, signal: ctx.signal }).catch(() => undefined);
    if (release) {
      releases.push(release);
      return dirOf(n);
    }
  }
}

/** The paths along `target` (shallowest first) that no dir of `view` (top first) has. */
function missingPaths(view: string[], target: string): string[] {
  const parts = path.posix.normalize(`/${target}`).split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    const type = typeInLayers(view, rel);
    // A symlink along the way resolves elsewhere: leave such targets alone.
    if (type === 'symlink') return out;
    if (type === undefined) out.push(rel);
  }
  return out;
}

/** Removes stub entries (empty files and dirs the step did not fill), deepest first. */
async function removeStubs(upper: string, stubs: string[]): Promise<void> {
  for (const rel of [...new Set(stubs)].sort((a, b) => b.split('/').length - a.split('/').length)) {
    const p = path.join(upper, rel);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isFile() && st.size === 0) await unlink(p).catch(() => {});
    else if (st.isDirectory() && (await readdir(p)).length === 0) await rmdir(p).catch(() => {});
  }
}
