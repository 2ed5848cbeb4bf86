/**
 * Wraps an OpExecutor so that results known only from an imported cache become real just before
 * a step needs them: the layer blobs of the step's inputs are fetched, and empty cache mounts
 * are seeded from imported contents, right before the step executes. Cache hits never get here,
 * so a result that only feeds other hits is never downloaded.
 */
import { chmod, mkdir } from 'node:fs/promises';
import type { BuildContext } from '../progress/index.js';
import type { Digest } from '../util/digest.js';
import { cacheMountPath } from './ops/cache-mount-path.js';
import type { OpExecutor } from './solve.js';
import type { LayerRef } from './types.js';

export interface LazyInputHooks {
  /** Makes every blob of `layers` present in the content store. */
  ensureLayers(ctx: BuildContext, layers: LayerRef[]): Promise<void>;
  /** Fills an empty cache mount dir; resolves whether it did. */
  seedCacheMount?(ctx: BuildContext, id: string, dir: string): Promise<boolean>;
}

export function withLazyInputs(inner: OpExecutor, stateRoot: string, hooks: LazyInputHooks): OpExecutor {
  const seeded = new Map<string, Promise<unknown>>();
  const seed = (ctx: BuildContext, id: string, mode: number): Promise<unknown> => {
    let p = seeded.get(id);
    if (!p) {
      p = (async () => {
        const dir = cacheMountPath(stateRoot, id);
        // Created here with its mode, as the exec op would on first use.
        if ((await mkdir(dir, { recursive: true })) !== undefined) await chmod(dir, mode);
        await hooks.seedCacheMount!(ctx, id, dir);
      })();
      seeded.set(id, p);
    }
    return p;
  };
  return {
    ...(inner.resolveSource ? { resolveSource: inner.resolveSource.bind(inner) } : {}),
    async execute(ctx, vertex, key, inputs, stats) {
      const layers = new Map<Digest, LayerRef>();
      for (const r of inputs.values()) for (const l of r.layers) layers.set(l.blob, l);
      await hooks.ensureLayers(ctx, [...layers.values()]);
      if (hooks.seedCacheMount && vertex.op.kind === 'exec') {
        for (const m of vertex.op.mounts) if (m.type === 'cache') await seed(ctx, m.id, m.mode);
      }
      return inner.execute(ctx, vertex, key, inputs, stats);
    },
  };
}
