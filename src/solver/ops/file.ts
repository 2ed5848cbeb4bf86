/**
 * COPY/ADD/WORKDIR: mount a writable snapshot of the root input on the host (or, for a COPY that
 * only adds names, write into its upper dir: copy-into-upper.ts), apply the file actions from
 * their source inputs (context dirs or read-only views of other stages), commit.
 */
import type { Stats } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FileOp, Vertex } from '../../graph/index.js';
import type { BuildContext } from '../../progress/index.js';
import { TsbuildError } from '../../errors/index.js';
import { applyFileOp } from '../../fileop/index.js';
import type { Digest } from '../../util/digest.js';
import type { LayerRef, StepStats, VertexResult } from '../types.js';
import type { SolverEnvironment } from './environment.js';
import { copyUpDirs, planCopyIntoUpper } from './copy-into-upper.js';
import { openCopyReuse, type CopyReuse } from './copy-reuse.js';
import { createLayerLinker } from './layer-link.js';

export async function runFile(
  ctx: BuildContext,
  env: SolverEnvironment,
  vertex: Vertex & { op: FileOp },
  inputs: Map<Digest, VertexResult>,
  stats: StepStats,
): Promise<LayerRef> {
  const op = vertex.op;
  const root = op.root ? inputs.get(op.root) : undefined;
  const lower = await env.layerDirs(ctx, root?.layers ?? []);
  const active = await env.prepareSnapshot(lower);
  const releases: Array<() => Promise<unknown>> = [];
  const target = await mkdtemp(path.join(env.tmpDir ?? os.tmpdir(), 'tsbuild-mnt-'));
  try {
    const dirs = new Map<Digest, string>();
    const isLocal = new Set<Digest>();
    const visible = new Map<Digest, ReadonlySet<string>>();
    const known = new Map<Digest, (rel: string) => Stats | undefined>();
    const linkable = new Map<Digest, (src: string, st: Stats) => string | undefined>();
    const views: string[] = [];
    for (const action of op.actions) {
      if (action.action !== 'copy' || dirs.has(action.from)) continue;
      const input = inputs.get(action.from);
      if (!input) throw new TsbuildError('ERR_TSBUILD_INTERNAL', `copy source ${action.from} was not solved`);
      if (input.dir !== undefined) {
        const source = env.graphVertex(action.from);
        if (source?.op.kind === 'source.local') {
          isLocal.add(action.from);
          // Only what the COPY reads, minus .dockerignore: an ignored file is never visible.
          // --parents copies directory chains the in-place check does not cover: always a view.
          const src = action.parents ? { dir: await env.filteredContext(source.op.name, action.src), view: true } : await env.contextForCopy(source.op.name, action.src);
          dirs.set(action.from, src.dir);
          if (src.view) views.push(src.dir);
          else if (src.visible) {
            visible.set(action.from, src.visible);
            if (src.stat) known.set(action.from, src.stat);
          }
        } else dirs.set(action.from, input.dir);
      } else {
        const ro = await env.mountReadOnly(ctx, input.layers);
        releases.push(ro.release);
        dirs.set(action.from, ro.dir);
        linkable.set(action.from, createLayerLinker(ro.dir, ro.lower, new Set(lower)));
      }
    }
    let rootDir = target;
    let reuse: CopyReuse | undefined;
    const copy = op.actions[0]?.action === 'copy' ? op.actions[0] : undefined;
    const copyUp = active.kind === 'overlay' && copy ? await planCopyIntoUpper(op, active.lower, dirs.get(copy.from)!) : undefined;
    if (copy && copyUp) {
      await copyUpDirs(copyUp, active.upper);
      rootDir = active.upper;
      // Files the previous run of this COPY made, linked instead of copied when unchanged.
      if (env.layerDir && visible.has(copy.from)) reuse = await openCopyReuse({ stateRoot: env.stateRoot, contextDir: dirs.get(copy.from)!, action: copy, upper: active.upper, layerDir: env.layerDir });
    } else releases.push(await env.mountSnapshot(active, target));
    const read = await applyFileOp(ctx, op, {
      rootDir,
      inputDir: (d: Digest) => dirs.get(d)!,
      contextIsLocal: (d: Digest) => isLocal.has(d),
      inputVisible: (d: Digest) => visible.get(d),
      inputStat: (d: Digest) => known.get(d),
      inputLinkable: (d: Digest) => linkable.get(d),
      ...(reuse ? { reuse } : {}),
    });
    stats.contextBytes = read.bytesRead;
    stats.contextFiles = read.filesRead;
    // The filtered context views (a link per file) are no longer read: remove them while the
    // layer is committed and later steps run, not at the end of the build; close() waits.
    for (const view of views) {
      const removing = rm(view, { recursive: true, force: true }).catch(() => {});
      env.onCleanup(() => removing);
    }
    for (const release of releases.splice(0).reverse()) await release();
    const layer = await env.commitLayer(ctx, active, stats);
    stats.layer = layer;
    // Written while the next steps run (~10 ms for 2,000 files); close() waits for it.
    if (reuse) {
      const saving = reuse.save(layer.diffId);
      env.onCleanup(() => saving);
    }
    return layer;
  } finally {
    for (const release of releases.reverse()) await release().catch(() => {});
    await active.dispose();
    await rm(target, { recursive: true, force: true }).catch(() => {});
  }
}

