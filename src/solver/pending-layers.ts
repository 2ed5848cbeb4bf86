/**
 * Layers whose tar is made only when something needs it. A step's layer is committed as its
 * overlay upper dir alone (moved to snapshots/layers/<id>, where later steps stack it); the tar,
 * its diff_id and a stored blob come when an exporter, a cache export or an insight command asks
 * for them. Most layers of a multi-stage build are never exported (a build stage whose final
 * stage copies one artifact), and making their tars meant reading back every file each step
 * wrote: ~100 ms of a one-file edit's 2,000-file COPY, for nothing. BuildKit, too, keeps step
 * results as snapshots and makes blobs only on export.
 *
 * A pending LayerRef carries a random id where the digests go (see LayerRef.pending). Once its tar
 * is made, <root>/cache/layer-diffs/<id hex>.json records `{diffId, size}`: the tar is in the
 * content store uncompressed (digest = diff_id), so each layer is tarred once. cache/gc.ts reads
 * those files: records holding the id hold the tar and its compressed variants, and a file whose
 * layer dir is gone is dropped.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { ContentStore } from '../cache/types.js';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import { createLayerFromOverlayUpper, LAYER_MEDIA_TYPES, writeLayerToStore } from '../snapshot/index.js';
import type { ChangeItem } from './change-count.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { digestHex, isDigest, type Digest } from '../util/digest.js';
import type { LayerRef } from './cache-index.js';

export const isPendingLayer = (l: LayerRef): boolean => l.pending !== undefined;

/** A pending layer's dir is all there is of it: without it the layer is lost. */
export function layerDirGone(id: Digest): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_STORE_CORRUPT', `the dir of layer ${digestHex(id).slice(0, 12)} is gone from the state root (pruned while a build used it?)`, {
    hint: 'build again: the step that made it runs again',
  });
}

/** A fresh layer id: the name of a new layer dir, in the digest form LayerRef fields have. */
export function newLayerId(): Digest {
  return `sha256:${randomBytes(32).toString('hex')}`;
}

/** The LayerRef of a layer committed as a dir only (`id` from newLayerId). */
export function pendingLayer(id: Digest, lazy: LayerRef['lazy'], sourceDateEpoch: number | undefined): LayerRef {
  return {
    diffId: id,
    blob: id,
    mediaType: LAYER_MEDIA_TYPES.uncompressed,
    size: 0,
    ...(lazy ? { lazy } : {}),
    pending: sourceDateEpoch !== undefined ? { sourceDateEpoch } : {},
  };
}

export interface LayerMaterializer {
  /**
   * `layers` with each pending one replaced by its real LayerRef (its tar made and stored once).
   * `onChanges` sees the change list of each tar this call makes (none for a tar already made).
   */
  materialize(ctx: BuildContext, layers: LayerRef[], observe?: { onChanges?(id: Digest, items: ChangeItem[]): void }): Promise<LayerRef[]>;
}

interface Known {
  diffId: Digest;
  size: number;
}

/** Where the diff_id of a materialized layer is kept (cache/gc.ts reads the same files). */
export const layerDiffFile = (stateRoot: string, id: Digest): string => path.join(stateRoot, 'cache', 'layer-diffs', `${digestHex(id)}.json`);

export function createLayerMaterializer(deps: { stateRoot: string; content: ContentStore; layerDir(id: Digest): string }): LayerMaterializer {
  const inFlight = new Map<Digest, Promise<LayerRef>>();
  // Each tar is a walk plus reading every file: more at once than the cores only thrashes.
  const limit = pLimit(2);

  const known = async (file: string): Promise<Known | undefined> => {
    try {
      const k = JSON.parse(await readFile(file, 'utf8')) as Known;
      // The tar may have been pruned since: then it is made again from the dir.
      if (isDigest(k.diffId) && (await deps.content.stat(k.diffId))?.size === k.size) return k;
    } catch {
      // not made yet, or unreadable: make it
    }
    return undefined;
  };

  const make = async (ctx: BuildContext, l: LayerRef, onChanges?: (items: ChangeItem[]) => void): Promise<LayerRef> => {
    const file = layerDiffFile(deps.stateRoot, l.diffId);
    const k =
      (await known(file)) ??
      (await limit(async () => {
        ctx.signal.throwIfAborted();
        const dir = deps.layerDir(l.diffId);
        if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw layerDirGone(l.diffId);
        const epoch = l.pending?.sourceDateEpoch;
        const tar = createLayerFromOverlayUpper(dir, { ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}), ...(onChanges ? { onChanges } : {}) });
        // A failed or cancelled build stops a tar nobody will use (one started as its step committed
        // may be large); the store drops the partial blob.
        const stop = (): void => void tar.destroy(new TsbuildError('ERR_TSBUILD_CANCELLED', 'layer tar cancelled'));
        ctx.signal.addEventListener('abort', stop, { once: true });
        let stored;
        try {
          stored = await writeLayerToStore(deps.content, tar, 'uncompressed');
        } finally {
          ctx.signal.removeEventListener('abort', stop);
        }
        const made: Known = { diffId: stored.diffId, size: stored.size };
        await writeFileAtomic(file, JSON.stringify(made));
        return made;
      }));
    return { diffId: k.diffId, blob: k.diffId, mediaType: LAYER_MEDIA_TYPES.uncompressed, size: k.size, ...(l.lazy ? { lazy: l.lazy } : {}) };
  };

  return {
    async materialize(ctx, layers, observe) {
      return Promise.all(
        layers.map((l) => {
          if (!isPendingLayer(l)) return l;
          let p = inFlight.get(l.diffId);
          if (!p) {
            const onChanges = observe?.onChanges;
            p = make(ctx, l, onChanges ? (items) => onChanges(l.diffId, items) : undefined);
            // A failed attempt may be retried by a later caller.
            p.catch(() => inFlight.delete(l.diffId));
            inFlight.set(l.diffId, p);
          }
          return p;
        }),
      );
    },
  };
}
