/**
 * The real OpExecutor: sources resolve from the local image store and the build context; exec
 * and file ops run on overlay snapshots of their input's layer chain and yield one new layer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecOp, FileOp, Vertex } from '../../graph/index.js';
import type { BuildContext } from '../../progress/index.js';
import { StepError, TsbuildError } from '../../errors/index.js';
import type { Digest } from '../../util/digest.js';
import type { OpExecutor } from '../solve.js';
import type { LayerRef, StepStats, VertexResult } from '../types.js';
import type { SolverEnvironment } from './environment.js';
import { runExec } from './exec.js';
import { runFile } from './file.js';

const SCRATCH_KEY = 'sha256:0000000000000000000000000000000000000000000000000000000000000000' as Digest;

export function createOpExecutor(env: SolverEnvironment): OpExecutor {
  return {
    async resolveSource(ctx, vertex, key) {
      const op = vertex.op;
      switch (op.kind) {
        case 'source.scratch':
          return { key: SCRATCH_KEY, layers: [], cached: true };
        case 'source.local':
          return { key, layers: [], dir: env.contextDirFor(op.name), cached: true };
        case 'source.image': {
          const image = await env.resolveImage(ctx, op.ref, op.platform, op.digest);
          return { key, layers: image.layers, image: image.image, cached: true };
        }
        default:
          return undefined;
      }
    },
    async execute(ctx, vertex, key, inputs, stats) {
      const op = vertex.op;
      switch (op.kind) {
        case 'exec':
          return withLayer(await runExec(ctx, env, vertex as Vertex & { op: ExecOp }, inputs, stats), key, inputs, op.root);
        case 'file':
          return withLayer(await runFile(ctx, env, vertex as Vertex & { op: FileOp }, inputs, stats), key, inputs, op.root);
        case 'source.http': {
          const dir = await mkdtemp(path.join(env.tmpDir ?? os.tmpdir(), 'tsbuild-http-'));
          env.onCleanup(() => rm(dir, { recursive: true, force: true }));
          await env.fetchHttp(ctx, op, dir);
          return { key, layers: [], dir, cached: false };
        }
        default:
          throw new TsbuildError('ERR_TSBUILD_INTERNAL', `no executor for op kind ${op.kind}`);
      }
    },
  };
}

function withLayer(layer: LayerRef, key: Digest, inputs: Map<Digest, VertexResult>, root: Digest | undefined): VertexResult {
  const parent = root ? inputs.get(root) : undefined;
  return { key, layers: [...(parent?.layers ?? []), layer], cached: false };
}

export { StepError, type StepStats };
