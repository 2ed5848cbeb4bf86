/**
 * The real SolverEnvironment: local images from the state root (pulled from a registry when
 * missing), layers unpacked once by the snapshotter, new layers stored uncompressed in the content
 * store (exporters compress them) and adopted as unpacked layers, temp mounts tracked so close() leaves nothing behind.
 */
import type { Stats } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StateRoot } from '../cache/index.js';
import { TsbuildError } from '../errors/index.js';
import { imageLayerSteps, type BuildGraph, type HttpSourceOp, type ImageRunConfig, type Platform } from '../graph/index.js';
import { directReadSelection, materializeEntries, selectEntries, type ContextEntry } from '../context/index.js';
import { xattrToolsAvailable } from '../fileop/index.js';
import { imageLayers, readImage, type LocalImage } from '../oci/index.js';
import type { BuildContext } from '../progress/index.js';
import { BUILD_TMP_PREFIX, cleanupStaleBuildDirs, cleanupStaleMounts, createSnapshotter, measureLayer, writeLayerToStore, type ActiveSnapshot, type Compression } from '../snapshot/index.js';
import type { Digest } from '../util/digest.js';
import type { SolverEnvironment } from './ops/environment.js';
import { countChanges, type ChangeItem } from './change-count.js';
import { createIdleWork, type IdleWork } from './idle-work.js';
import { createLayerMaterializer, isPendingLayer, layerDirGone, newLayerId, pendingLayer } from './pending-layers.js';
import type { LayerRef, ResolvedBaseImage } from './types.js';

export interface SolverEnvironmentOptions {
  state: StateRoot;
  /** Where deferred work queues (the build record's shares it); the environment makes its own without. */
  idleWork?: IdleWork;
  contextDir: string;
  ignore: string[];
  secrets: Map<string, Buffer>;
  proxyEnv: string[];
  compression?: Compression;
  /** The exporter's compression-level for new layers (default: the compression's own). */
  compressionLevel?: number | undefined;
  sourceDateEpoch?: number | undefined;
  /** Fetches a remote image into the store when it is not local (registry/). */
  pullImage?: (ctx: BuildContext, ref: string, platform: Platform) => Promise<{ manifestDigest: Digest } | undefined>;
  fetchHttp?: (ctx: BuildContext, op: HttpSourceOp, dir: string) => Promise<void>;
  /** Force a snapshot kind (default: overlay when the kernel can mount it, else copy). */
  snapshotter?: 'overlay' | 'copy' | undefined;
  /** The walked, ignore-filtered build context. */
  contextEntries: () => Promise<ContextEntry[]>;
  /** The walk's lstat of an included context entry (ContextHasher.statOf). */
  contextStat?: (rel: string) => Stats | undefined;
}

export interface SolverEnvironmentImpl extends SolverEnvironment {
  /** Base image config for the planner (ENV, WORKDIR, ONBUILD...). */
  resolveImageConfig(ref: string, platform: Platform): Promise<{ ref: string; digest?: Digest; config: ImageRunConfig } | undefined>;
  /** Gives the environment the graph being solved (for vertex lookups). */
  attachGraph(graph: BuildGraph): void;
  /** Where a layer's dir is (a pending layer's is all there is of it). */
  layerDir(diffId: Digest): string;
  /** `layers` with every pending layer's tar made and stored (exports need real diff_ids and blobs). */
  materialize(ctx: BuildContext, layers: LayerRef[]): Promise<LayerRef[]>;
  /** Whether every pending layer among `layers` still has its dir (a record whose dir was pruned is a miss). */
  pendingLayersPresent(layers: LayerRef[]): Promise<boolean>;
  /** The flattened filesystem of a layer chain in a temp dir (for local/tar exports). */
  flatten(ctx: BuildContext, layers: LayerRef[]): Promise<string>;
  close(): Promise<void>;
}

export async function createSolverEnvironment(options: SolverEnvironmentOptions): Promise<SolverEnvironmentImpl> {
  const { state } = options;
  await cleanupStaleMounts(state.root);
  const snaps = createSnapshotter(state.root);
  // In a fresh root the overlay probe (a mount and unmount) then overlaps planning and hashing
  // instead of delaying the first step; in a used root it is one small file read.
  const probing = snaps.overlayAvailable().catch(() => false);
  // close() waits for it: a probe cut short by exit could leave its mount behind.
  const cleanups: Array<() => Promise<unknown>> = [() => probing];
  const idleWork = options.idleWork ?? createIdleWork();
  cleanups.push(() => idleWork.flush());
  // Asked now, the host shell the first COPY's getfattr needs starts while the context is hashed.
  void xattrToolsAvailable();
  const images = new Map<string, Promise<LocalImage | undefined>>();
  // Named for this process, so a later build can tell a killed build's leftovers from a live one's.
  await cleanupStaleBuildDirs();
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), `${BUILD_TMP_PREFIX}${process.pid}-`));
  cleanups.push(() => rm(tmpRoot, { recursive: true, force: true }));

  const lookupImage = (ref: string, platform: Platform): Promise<LocalImage | undefined> => {
    const key = `${ref}|${platform.os}/${platform.architecture}`;
    let p = images.get(key);
    if (!p) {
      p = (async () => {
        const record = await state.images.get(ref);
        if (record) return readImage(state.content, ref, record.digest, platform);
        const pulled = await options.pullImage?.({ signal: new AbortController().signal, progress: { emit() {} } }, ref, platform);
        if (pulled) return readImage(state.content, ref, pulled.manifestDigest, platform);
        return undefined;
      })();
      images.set(key, p);
    }
    return p;
  };

  const materializer = createLayerMaterializer({ stateRoot: state.root, content: state.content, layerDir: (id) => snaps.layerDir(id) });
  const layerDirs = async (ctx: BuildContext, layers: LayerRef[]): Promise<string[]> => {
    const dirs = await Promise.all(
      layers.map(async (l) => {
        if (!isPendingLayer(l)) return snaps.ensureLayer(l.diffId, () => state.content.openRead(l.blob));
        // Its dir is all there is of it (solve checked it before using the record).
        if (await snaps.hasLayer(l.diffId)) return snaps.layerDir(l.diffId);
        throw layerDirGone(l.diffId);
      }),
    );
    void ctx;
    return dirs.reverse();
  };

  let graph: BuildGraph | undefined;
  // Steps whose layers the image is made of: their tars are needed at the end of every build.
  let imageSteps = new Set<Digest>();
  const env: SolverEnvironmentImpl = {
    attachGraph(g) {
      graph = g;
      imageSteps = new Set(imageLayerSteps(g).map((v) => v.digest));
    },
    graphVertex: (d) => graph?.vertices[d],
    async filteredContext(name, patterns, materialize) {
      env.contextDirFor(name);
      const dir = await mkdtemp(path.join(tmpRoot, 'ctx-'));
      await materializeEntries(options.contextDir, selectEntries(await options.contextEntries(), patterns), dir, materialize);
      return dir;
    },
    async contextForCopy(name, patterns) {
      const dir = env.contextDirFor(name);
      const visible = directReadSelection(await options.contextEntries(), patterns);
      if (visible) return { dir, visible, view: false, ...(options.contextStat ? { stat: options.contextStat } : {}) };
      return { dir: await env.filteredContext(name, patterns), view: true };
    },
    stateRoot: state.root,
    content: state.content,
    secrets: options.secrets,
    proxyEnv: options.proxyEnv,
    tmpDir: tmpRoot,
    onCleanup: (fn) => void cleanups.push(fn),
    idle: () => idleWork.idle(),
    layerDirs,
    layerDir: (diffId) => snaps.layerDir(diffId),
    prepareSnapshot: (lower) => snaps.prepare(lower, options.snapshotter),
    async mountSnapshot(active, target) {
      return snaps.mount(active as Parameters<typeof snaps.mount>[0], target);
    },
    async mountReadOnly(ctx, layers) {
      const dir = await mkdtemp(path.join(tmpRoot, 'ro-'));
      const lower = await layerDirs(ctx, layers);
      if (lower.length === 0) return { dir, lower, release: () => rm(dir, { recursive: true, force: true }) };
      const release = await snaps.mountReadOnly(lower, dir);
      return {
        dir,
        lower,
        release: async () => {
          await release();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
    async commitLayer(ctx, activeLike, stats) {
      const active = activeLike as ActiveSnapshot;
      let items: ChangeItem[] | undefined;
      const diffOptions = { ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}), ...(stats ? { onChanges: (i: ChangeItem[]) => void (items = i) } : {}) };
      const compression = options.compression ?? 'gzip';
      const lazy = compression === 'uncompressed' ? undefined : { compression, ...(options.compressionLevel !== undefined ? { level: options.compressionLevel } : {}) };
      if (active.kind === 'overlay') {
        // The upper dir already is this layer in overlay form: it becomes the layer's dir, and its
        // tar waits until something needs it (pending-layers.ts). The build record still gets
        // the tar's size and the change counts, from one walk that reads no file. A layer dir is
        // never written once adopted, so that walk is left for a moment when the build is only
        // waiting (idle-work.ts): at commit, a 2,000-file COPY's held the next step ~15-25 ms.
        const id = newLayerId();
        await snaps.adoptLayer(id, active.upper);
        const lower = active.lower;
        const layer = pendingLayer(id, lazy, options.sourceDateEpoch);
        // The image config lists this layer's diff_id: its tar is made now, beside the next steps,
        // instead of after the last one (a failure here is met again, and reported, at the end).
        // That walk gives the record its numbers too: the tar's size is what measuring computes.
        if (stats?.vertex !== undefined && imageSteps.has(stats.vertex)) {
          const making = materializer.materialize(ctx, [layer], { onChanges: (_, i) => void (items = i) });
          stats.measured = making
            .then(([made]) => {
              stats.layerSize = made!.size;
              if (items) stats.changes = countChanges(items, lower);
            })
            .catch(() => {}); // only the record's numbers are missing then
          cleanups.push(() => stats.measured!);
        } else if (stats) {
          stats.measured = idleWork
            .add(async () => {
              stats.layerSize = await measureLayer(snaps.layerDir(id), diffOptions);
              if (items) stats.changes = countChanges(items, lower);
            })
            .catch(() => {}); // only the record's numbers are missing then
        }
        return layer;
      }
      // A copy snapshot's changes exist only against its base view, which goes with the snapshot:
      // its tar is made now. Stored uncompressed (digest = diff_id); exports compress it.
      const stored = await writeLayerToStore(state.content, active.diff(diffOptions), 'uncompressed');
      if (stats) {
        stats.layerSize = stored.diffSize;
        if (items) stats.changes = countChanges(items, active.base ? [active.base] : active.lower);
      }
      return { diffId: stored.diffId, blob: stored.digest, mediaType: stored.mediaType, size: stored.size, ...(lazy ? { lazy } : {}) };
    },
    materialize: (ctx, layers) => materializer.materialize(ctx, layers),
    async pendingLayersPresent(layers) {
      return (await Promise.all(layers.filter(isPendingLayer).map((l) => snaps.hasLayer(l.diffId)))).every(Boolean);
    },
    contextDirFor(name) {
      if (name !== 'context') throw new TsbuildError('ERR_TSBUILD_CONTEXT_NOT_FOUND', `named context "${name}" is not supported yet`);
      return options.contextDir;
    },
    excludeFor: () => options.ignore,
    async resolveImage(_ctx, ref, platform): Promise<{ layers: LayerRef[]; image: ResolvedBaseImage }> {
      const img = await lookupImage(ref, platform);
      if (!img) throw new TsbuildError('ERR_TSBUILD_IMAGE_NOT_FOUND', `image ${ref} is not in the local store and could not be pulled`);
      return {
        layers: imageLayers(img),
        image: { ref, manifestDigest: img.manifestDigest, config: img.config as unknown as Record<string, unknown> },
      };
    },
    async resolveImageConfig(ref, platform) {
      const img = await lookupImage(ref, platform);
      if (!img) return undefined;
      return { ref, digest: img.manifestDigest, config: (img.config.config ?? {}) as ImageRunConfig };
    },
    async fetchHttp(ctx, op, dir) {
      if (!options.fetchHttp) throw new TsbuildError('ERR_TSBUILD_INTERNAL', 'ADD <url> is not wired in this build');
      await options.fetchHttp(ctx, op, dir);
    },
    async flatten(ctx, layers) {
      const { unpackLayer } = await import('../snapshot/index.js');
      const dir = await mkdtemp(path.join(tmpRoot, 'rootfs-'));
      for (const l of await materializer.materialize(ctx, layers)) await unpackLayer(state.content.openRead(l.blob), dir, { mode: 'merge' });
      return dir;
    },
    async close() {
      for (const fn of cleanups.reverse()) await fn().catch(() => {});
    },
  };
  return env;
}
