/**
 * The programmatic entry point: build(options, ctx) runs parse -> plan -> solve -> assemble ->
 * export and returns what was built. The CLI is a thin shell over this function.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openBuildCache, resolveBuildCache, type BuildCacheReport } from './build-cache.js';
import { openStateRoot } from './cache/index.js';
import { answeredRecordOf, createBuildRecorder, emitExplanations, type AnsweredBuildRecord, type BuildRecord } from './history/index.js';
import { createIgnoreMatcher, readDockerignore } from './context/index.js';
import { createContextHasher, statCacheFileFor } from './context/checksum.js';
import { TsbuildError } from './errors/index.js';
import { assembleImage, checkStdoutOutputs, createLayerConverter, exportImage, needsConversion, resolveExporters, type AssembledImage, type OutputSink, type ResolvedExporter, type StoredLayerRef } from './exporter/index.js';
import { isLayerOp, targetLayerSteps, type BuildGraph, type NetworkMode, type Platform } from './graph/index.js';
import { parseDockerfile } from './parser/index.js';
import { planBuild } from './plan/index.js';
import { stamp, teeProgress, type BuildContext, type TimelessEvent } from './progress/index.js';
import { cacheRecordFile, createCacheIndex } from './solver/cache-index.js';
import { createSolverEnvironment } from './solver/environment-impl.js';
import { createIdleWork } from './solver/idle-work.js';
import { createOpExecutor } from './solver/ops/executor.js';
import { isPendingLayer } from './solver/pending-layers.js';
import { saveUpToDate } from './uptodate/write.js';
import { solve } from './solver/solve.js';
import { checkSandboxAvailable, cleanupStaleContainers } from './sandbox/index.js';
import { fetchHttpSource } from './fileop/index.js';
import { normalizeReference, parseReference } from './oci/index.js';
import { createDockerCredentialStore, createRegistryClient, pullReference, pushToNames } from './registry/index.js';
import type { LayerRef, ResolvedBaseImage, SolveResult } from './solver/types.js';
import type { Digest } from './util/digest.js';

export interface SecretSource {
  id: string;
  /** File to read the value from. */
  src?: string;
  /** Environment variable to read the value from. */
  env?: string;
}

export interface BuildOptions {
  /** The build context directory. */
  context: string;
  /** Dockerfile path (default: <context>/Dockerfile). */
  file?: string;
  target?: string;
  buildArgs?: Record<string, string>;
  tags?: string[];
  /** -o/--output values, buildx syntax. */
  outputs?: string[];
  /** `--push`: push the -t names to their registries (like buildx). */
  push?: boolean;
  noCache?: boolean;
  noCacheFilter?: string[];
  jobs?: number;
  network?: NetworkMode;
  secrets?: SecretSource[];
  /** State root (else $TSBUILD_ROOT, else the per-user default). */
  root?: string;
  platform?: string;
  /** Registries (host[:port]) reached over plain HTTP; loopback always is. */
  insecureRegistries?: string[];
  /** Entitlements granted (`--allow`): `security.insecure`, `network.host`. */
  allow?: string[];
  /** Environment for SOURCE_DATE_EPOCH, proxies and secret env sources (default: none). */
  env?: NodeJS.ProcessEnv;
  /** Emit a `vertex.explain` event naming the cause of every cache miss (`--explain`). */
  explain?: boolean;
  /**
   * Write an up-to-date record for this invocation (src/uptodate/): `key` names the invocation,
   * `tool` the tsbuild that writes it. The CLI passes it; a later identical invocation is
   * answered from the record while nothing it names has changed.
   */
  upToDate?: { key: string; tool: string };
  /** `--cache-to` values, buildx syntax (type=registry|local). */
  cacheTo?: string[];
  /** `--cache-from` values, buildx syntax (type=registry|local, or a bare registry ref). */
  cacheFrom?: string[];
  /** Where `-o ...,dest=-` writes the tarball (the CLI passes its stdout; never a terminal). */
  stdout?: OutputSink;
}

export interface BuildResult {
  graph: BuildGraph;
  solved: SolveResult;
  /**
   * The image as the first image exporter (oci, docker, -t, --push) wrote it; without one, the
   * image as the store holds it (new layers uncompressed): its config digest is the image ID all
   * the same, but its manifest digest is no exported image's (see `exported`).
   */
  image: AssembledImage;
  /** True when an image exporter ran, so image.manifest is the exported manifest. */
  exported: boolean;
  warnings: string[];
  /** The build record written to <root>/history (undefined if it could not be written). */
  record?: BuildRecord;
  /** What --cache-from/--cache-to did (downloads, uploads). */
  cache: BuildCacheReport;
}

const PROXY_ARGS = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'];

const ENTITLEMENTS = ['security.insecure', 'network.host'];

/**
 * As BuildKit, privileged RUN options need entitlements, checked before any step runs:
 * `RUN --security=insecure` needs security.insecure (the step then runs privileged), and
 * `RUN --network=host` needs network.host, which `--network host` on the command line also grants
 * (Docker 26 lab: a RUN --network=host alone fails with "network.host is not allowed").
 */
function resolveEntitlements(allow: string[], buildNetwork: NetworkMode | undefined): Set<string> {
  for (const a of allow) {
    if (!ENTITLEMENTS.includes(a)) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --allow "${a}": expected ${ENTITLEMENTS.join(' or ')}`);
  }
  const granted = new Set(allow);
  if (buildNetwork === 'host') granted.add('network.host');
  return granted;
}

function checkEntitlements(graph: BuildGraph, granted: Set<string>): void {
  for (const v of targetLayerSteps(graph)) {
    if (v.op.kind !== 'exec') continue;
    const at = v.meta.location ? `${v.meta.location.file}:${v.meta.location.startLine}: ` : '';
    if (v.op.security === 'insecure' && !granted.has('security.insecure')) {
      throw new TsbuildError('ERR_TSBUILD_ENTITLEMENT', `${at}RUN --security=insecure needs the security.insecure entitlement`, {
        hint: 'grant it with --allow security.insecure (as with docker buildx build); the step then runs privileged',
      });
    }
    if (v.op.network === 'host' && !granted.has('network.host')) {
      throw new TsbuildError('ERR_TSBUILD_ENTITLEMENT', `${at}RUN --network=host needs the network.host entitlement`, {
        hint: 'grant it with --allow network.host (or build with --network host)',
      });
    }
  }
}

export function parsePlatform(value: string | undefined): Platform {
  if (!value) return { os: 'linux', architecture: hostArch() };
  const [osName, architecture, variant] = value.split('/');
  if (!osName || !architecture) throw new TsbuildError('ERR_TSBUILD_PLATFORM', `invalid platform "${value}"`);
  return variant ? { os: osName, architecture, variant } : { os: osName, architecture };
}

function hostArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  return map[os.arch()] ?? os.arch();
}

export async function build(options: BuildOptions, ctx: BuildContext): Promise<BuildResult> {
  const startedAt = Date.now();
  const env = options.env ?? {};
  const contextDir = path.resolve(options.context);
  const st = await stat(contextDir).catch(() => undefined);
  if (!st?.isDirectory()) throw new TsbuildError('ERR_TSBUILD_CONTEXT_NOT_FOUND', `build context "${options.context}" is not a directory`);
  const dockerfilePath = path.resolve(contextDir, options.file ?? 'Dockerfile');
  const text = await readFile(dockerfilePath).catch((cause) => {
    throw new TsbuildError('ERR_TSBUILD_DOCKERFILE_NOT_FOUND', `cannot read Dockerfile ${dockerfilePath}`, { cause });
  });

  // Exporter options are checked before any work starts (a typo must not cost a build).
  const exporters = resolveExporters(options.outputs ?? [], { tags: options.tags ?? [], push: options.push ?? false });
  checkStdoutOutputs(exporters, options.stdout);
  const entitlements = resolveEntitlements(options.allow ?? [], options.network);
  const cacheSpecs = resolveBuildCache(options.cacheTo ?? [], options.cacheFrom ?? []);
  const secrets = await loadSecrets(options.secrets ?? [], env);
  // BuildKit takes SOURCE_DATE_EPOCH as a build arg (buildx forwards the env variable that way).
  const sourceDateEpoch = parseEpoch(options.buildArgs?.['SOURCE_DATE_EPOCH'] ?? env.SOURCE_DATE_EPOCH);

  const ast = parseDockerfile(text, { file: path.relative(process.cwd(), dockerfilePath) || dockerfilePath });
  const { patterns: ignore, read: ignoreFiles } = await readDockerignore(contextDir, dockerfilePath);
  const state = await openStateRoot({ root: options.root, env });
  const platform = parsePlatform(options.platform);
  await checkSandboxAvailable();
  await cleanupStaleContainers();
  const matcher = createIgnoreMatcher(ignore);
  const hasher = createContextHasher({
    contextDir,
    exclude: (rel, isDir) => matcher.excludes(rel, isDir),
    canSkipDir: (rel) => matcher.canSkipDir(rel),
    statCacheFile: statCacheFileFor(state.root, contextDir),
  });
  // Work the build needs done but not now (layer sizes, context summaries), for when it only waits.
  const idleWork = createIdleWork();
  const recorder = createBuildRecorder({ root: state.root, dockerfile: dockerfilePath, context: contextDir, noCache: options.noCache ?? false, buildArgs: options.buildArgs ?? {}, hasher, startedAt, idleWork });
  ctx = { ...ctx, progress: teeProgress(ctx.progress, recorder.tap) };
  let planned: BuildGraph | undefined;
  // Plain-HTTP registries besides loopback: --insecure-registry, or TSBUILD_INSECURE_REGISTRIES=host[:port],...
  const insecureRegistries = [...(options.insecureRegistries ?? []), ...(env.TSBUILD_INSECURE_REGISTRIES ?? '').split(',').filter(Boolean)];
  // The build's signal: Ctrl-C stops downloads and uploads at once, not after the current blob.
  const registry = createRegistryClient({ credentials: createDockerCredentialStore({ env }), insecureRegistries, signal: ctx.signal });
  // New layers are stored uncompressed and remember the first image exporter's compression and
  // level: every export compresses them to that (or to its own with force-compression); existing
  // layers keep their blobs unless force-compression (exporter/convert-layers.ts).
  const imageExporter = exporters.find((e) => e.type !== 'local' && e.type !== 'tar');
  const compression = imageExporter?.compression ?? 'gzip';
  const solverEnv = await createSolverEnvironment({
    state,
    idleWork,
    contextDir,
    ignore,
    contextEntries: () => hasher.entries(),
    contextStat: (rel) => hasher.statOf(rel),
    // TSBUILD_SNAPSHOTTER=copy forces the copy-based snapshots used where overlayfs is unavailable.
    snapshotter: env.TSBUILD_SNAPSHOTTER === 'copy' || env.TSBUILD_SNAPSHOTTER === 'overlay' ? env.TSBUILD_SNAPSHOTTER : undefined,
    compression,
    compressionLevel: imageExporter?.compressionLevel,
    sourceDateEpoch: exporters.some((e) => e.rewriteTimestamp) ? sourceDateEpoch : undefined,
    pullImage: async (c, ref, p) => {
      const r = parseReference(ref);
      const pulled = await pullReference(c, registry, state.content, { registry: r.registry, repository: r.repository }, r.digest ?? r.tag ?? 'latest', p);
      const message = pulled.downloaded === undefined ? `${ref}: all blobs in the store (${pulled.manifestDigest})` : `pulled ${ref}: ${pulled.downloaded} bytes downloaded (${pulled.manifestDigest})`;
      ctx.progress.emit({ type: 'info', time: Date.now(), message });
      return { manifestDigest: pulled.manifestDigest };
    },
    fetchHttp: async (c, op, dir) => {
      await fetchHttpSource(c, { url: op.url, ...(op.checksum ? { checksum: op.checksum } : {}), ...(op.filename ? { filename: op.filename } : {}) }, dir);
    },
    secrets,
    // Each proxy arg in either spelling sets both (HTTP_PROXY and http_proxy), as BuildKit does.
    proxyEnv: PROXY_ARGS.flatMap((k) => {
      const v = options.buildArgs?.[k] ?? options.buildArgs?.[k.toLowerCase()];
      return v !== undefined ? [`${k}=${v}`, `${k.toLowerCase()}=${v}`] : [];
    }),
  });
  try {
    const graph = await planBuild({
      ast,
      target: options.target,
      buildArgs: options.buildArgs ?? {},
      platform,
      dockerignore: ignore,
      noCache: options.noCache ?? false,
      noCacheFilter: options.noCacheFilter ?? [],
      ...(options.network ? { network: options.network } : {}),
      resolveImage: (ref: string, p: Platform) => solverEnv.resolveImageConfig(ref, p),
      buildPlatform: parsePlatform(undefined),
    });
    planned = graph;
    checkEntitlements(graph, entitlements);
    const warnings = graph.unusedBuildArgs
      .filter((a) => !PROXY_ARGS.includes(a.toUpperCase()))
      .map((a) => `[Warning] One or more build-args [${a}] were not consumed`);
    // Every build of these inputs shows them, an up-to-date one too (uptodate/).
    const warningEvents: TimelessEvent[] = [
      ...warnings.map((message): TimelessEvent => ({ type: 'warning', rule: 'UnusedBuildArg', message })),
      ...graph.warnings.map((w): TimelessEvent => ({ type: 'warning', rule: w.rule, message: w.message, file: w.file, line: w.line })),
    ];
    for (const e of warningEvents) ctx.progress.emit(stamp(e));
    solverEnv.attachGraph(graph);
    // Exports and the cache export turn uncompressed new layers into blobs in their compression.
    const converter = createLayerConverter({ store: state.content, root: state.root, lock: state.lock });
    const remoteCache = await openBuildCache(ctx, cacheSpecs, { state, registry, convert: async (c, ls) => converter.convert(c, await solverEnv.materialize(c, ls), { compression: 'gzip', force: false }) });
    const localIndex = createCacheIndex(state.root);
    const index = remoteCache.wrapIndex(localIndex);
    // Nothing to hit: the solver need not wait for cache keys (and the context checksum) first.
    const eager = options.noCache === true || (cacheSpecs.imports.length === 0 && ((await localIndex.isEmpty())));
    ctx.progress.emit({ type: 'build.start', time: Date.now(), target: graph.target.name, vertices: Object.keys(graph.vertices).length });
    // The stat cache is written once the build first waits (its checksums are usually all taken
    // by then), not after the last step; the save after the solve writes only what came later.
    idleWork.add(() => hasher.save()).catch(() => {});
    const solved = await solve(ctx, {
      graph,
      index,
      checksums: recorder.checksums,
      executor: remoteCache.wrapExecutor(createOpExecutor(solverEnv)),
      // A layer this store made exists as its dir until an export makes its tar (solver/pending-layers.ts).
      layersAvailable: async (r) => (await solverEnv.pendingLayersPresent(r.layers)) && remoteCache.layersAvailable({ layers: r.layers.filter((l) => !isPendingLayer(l)) }),
      jobs: options.jobs ?? os.availableParallelism(),
      eager,
    });
    // Deferred work (solver/idle-work.ts) may start: the record waits for it.
    idleWork.idle();
    await hasher.save();

    // A cache hit high in the chain skips the base image vertex: resolve the base explicitly.
    const base = graph.target.base ? await solverEnv.resolveImage(ctx, graph.target.base.ref, graph.target.platform) : undefined;
    // The image as this store holds it: new layers uncompressed. Its config (and so the image ID)
    // is the exported image's; its manifest is reported only when an image exporter ran (as BuildKit
    // reports no containerimage.digest without one), so a build without outputs compresses nothing.
    // The image's layers made by this store get their tars now (the config lists their diff_ids).
    const layers = await solverEnv.materialize(ctx, solved.target.layers);
    const image = await assembleFromSolve(state.content, graph, solved, layers, base, sourceDateEpoch);
    // Layers known only from --cache-from are downloaded now, and only when something is exported.
    if (exporters.length) await remoteCache.ensureOutput(ctx, layers);
    // Uncompressed new layers take their compression here; force-compression=true: this exporter's
    // image has every layer in its compression (exporter/convert-layers.ts).
    const imageFor = async (e: ResolvedExporter): Promise<AssembledImage> => {
      const target = { compression: e.compression, level: e.compressionLevel, force: e.forceCompression };
      if (e.type === 'local' || e.type === 'tar') return image;
      const convert = needsConversion(layers, target) ? (ls: StoredLayerRef[]) => converter.convert(ctx, ls, target) : undefined;
      if (!convert && e.ociMediaTypes) return image;
      return assembleFromSolve(state.content, graph, solved, layers, base, sourceDateEpoch, convert, e.ociMediaTypes ? 'oci' : 'docker');
    };
    let resultImage: AssembledImage | undefined;
    for (const exporter of exporters) {
      const exported = await imageFor(exporter);
      if (exporter === imageExporter) resultImage = exported;
      if (exporter.type === 'image' && exporter.push) {
        // Push each name to its registry: blobs first (HEAD skips what is there), then the manifest.
        // The base image's repository (and each name pushed before) lend their blobs by cross-repository mount.
        const sources = graph.target.base ? [parseReference(graph.target.base.ref)] : [];
        for (const { name, stats } of await pushToNames(ctx, registry, exporter.names.map((name) => ({ name, ...parseReference(name) })), state.content, exported, { sources })) {
          ctx.progress.emit({ type: 'info', time: Date.now(), message: `pushed ${name}: ${stats.uploaded} blobs uploaded (${stats.bytes} bytes), ${stats.mounted} mounted, ${stats.skipped} already there` });
        }
      }
      await exportImage(ctx, exporter, {
        store: state.content,
        images: state.images,
        image: exported,
        rootfs: () => solverEnv.flatten(ctx, layers),
        sourceDateEpoch,
        stdout: options.stdout,
      });
    }
    const cache = await remoteCache.finish(ctx, graph, solved, index);
    // A record a later identical invocation can be answered from (uptodate/), written while the
    // build record is; failing to write it only costs that.
    let upToDateWritten: Promise<unknown> | undefined;
    const finishing = recorder.finish({ graph, solved, layers, image: { ...(resultImage ? { manifestDigest: resultImage.manifest.digest } : {}), configDigest: image.config.digest } });
    if (options.upToDate && upToDateEligible(graph, exporters, cacheSpecs, options)) {
      const target = graph.vertices[graph.target.root];
      const cached: TimelessEvent[] = target && isLayerOp(target) ? [{ type: 'vertex.cached', vertex: target.digest, name: target.meta.name, ...(target.meta.stage ? { stage: target.meta.stage } : {}) }] : [];
      upToDateWritten = recordUpToDate(options.upToDate, {
        state,
        files: [{ path: dockerfilePath, text: text.toString('latin1') }, ...ignoreFiles],
        contextDir,
        hasher,
        layerDir: (id) => solverEnv.layerDir(id),
        graph,
        solved,
        tags: exporters.flatMap((e) => e.names),
        manifest: resultImage?.manifest.digest,
        // What a rebuild that hits the cache for the target shows.
        events: [...warningEvents, { type: 'build.start', target: graph.target.name, vertices: Object.keys(graph.vertices).length }, ...cached, { type: 'build.end', ok: true }],
        imageId: (resultImage ?? image).config.digest,
        // The build record such a rebuild writes.
        history: finishing.then((r) => (r ? answeredRecordOf(r, target && isLayerOp(target) ? target.digest : undefined) : undefined)),
      }).catch(() => {});
    }
    const record = await finishing;
    await upToDateWritten;
    if (options.explain && record) emitExplanations(ctx.progress, record);
    ctx.progress.emit({ type: 'build.end', time: Date.now(), ok: true });
    return { graph, solved, image: resultImage ?? image, exported: resultImage !== undefined, warnings, cache, ...(record ? { record } : {}) };
  } catch (err) {
    await recorder.finish({ ...(planned ? { graph: planned } : {}), error: err });
    ctx.progress.emit({ type: 'build.end', time: Date.now(), ok: false, error: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    await solverEnv.close();
  }
}

async function assembleFromSolve(
  store: Parameters<typeof assembleImage>[0],
  graph: BuildGraph,
  solved: SolveResult,
  /** The target's layer chain, materialized. */
  layers: LayerRef[],
  baseResult: { layers: LayerRef[]; image: ResolvedBaseImage } | undefined,
  sourceDateEpoch: number | undefined,
  convert?: (layers: StoredLayerRef[]) => Promise<StoredLayerRef[]>,
  mediaTypes: 'oci' | 'docker' = 'oci',
): Promise<AssembledImage> {
  const stage = graph.target;
  const chain = [...(baseResult?.layers ?? []), ...layers.slice(baseResult?.layers.length ?? 0)];
  const all = convert ? await convert(chain) : chain;
  const baseLayers = all.slice(0, baseResult?.layers.length ?? 0);
  const added = all.slice(baseLayers.length);
  const baseConfig = baseResult?.image.config;
  return assembleImage(store, {
    platform: stage.platform,
    ...(baseConfig
      ? { base: { config: baseConfig, layers: baseLayers.map((l) => ({ mediaType: l.mediaType, digest: l.blob, size: l.size })) } }
      : {}),
    layers: added.map((l) => ({ descriptor: { mediaType: l.mediaType, digest: l.blob, size: l.size }, diffId: l.diffId })),
    history: await historyTimes(stage.history, solved, baseConfig?.created as string | undefined),
    config: stage.config,
    ...(stage.author !== undefined ? { author: stage.author } : {}),
    ...(sourceDateEpoch !== undefined ? { created: new Date(sourceDateEpoch * 1000) } : {}),
    mediaTypes,
  });
}

/**
 * Each history entry gets the creation time of its step's result (from the cache when cached);
 * metadata-only entries take the time of the layer before them, so rebuilds are byte-stable.
 */
async function historyTimes(history: BuildGraph['target']['history'], solved: SolveResult, baseCreated: string | undefined) {
  let last = baseCreated ? new Date(baseCreated) : undefined;
  const out = [];
  for (const h of history) {
    const made = h.vertex ? await solved.createdOf(h.vertex) : undefined;
    if (made) last = new Date(made);
    out.push({ ...h, ...(last ? { created: last } : {}) });
  }
  return out;
}

/**
 * Whether a later identical invocation could be answered without building: only local inputs
 * (no ADD <url>, whose server may change), no cache imports or exports, only the local image
 * store as output (a file or a push would have to be made again), and nothing that forces work.
 */
function upToDateEligible(graph: BuildGraph, exporters: ResolvedExporter[], cache: ReturnType<typeof resolveBuildCache>, options: BuildOptions): boolean {
  if (options.noCache || options.noCacheFilter?.length || options.explain) return false;
  if (cache.imports.length > 0 || cache.exports.length > 0) return false;
  if (!exporters.every((e) => e.type === 'image' && !e.push)) return false;
  return Object.values(graph.vertices).every((v) => v.op.kind !== 'source.http');
}

async function recordUpToDate(
  upToDate: { key: string; tool: string },
  b: {
    state: Awaited<ReturnType<typeof openStateRoot>>;
    files: Array<{ path: string; text: string | null }>;
    contextDir: string;
    hasher: ReturnType<typeof createContextHasher>;
    layerDir: (id: Digest) => string;
    graph: BuildGraph;
    solved: SolveResult;
    tags: string[];
    manifest: Digest | undefined;
    events: TimelessEvent[];
    imageId: Digest;
    history: Promise<AnsweredBuildRecord | undefined>;
  },
): Promise<void> {
  const images: Array<{ name: string; digest: string }> = [];
  for (const v of Object.values(b.graph.vertices)) {
    if (v.op.kind !== 'source.image') continue;
    const rec = await b.state.images.get(v.op.ref);
    // Pulled by digest or not stored: nothing to compare later.
    if (!rec) return;
    images.push({ name: v.op.ref, digest: rec.digest });
  }
  for (const tag of b.tags) images.push({ name: normalizeReference(tag), digest: b.manifest ?? '' });
  await saveUpToDate({
    key: upToDate.key,
    tool: upToDate.tool,
    stateRoot: b.state.root,
    files: b.files,
    contextDir: b.contextDir,
    listing: await b.hasher.listing(),
    fileHash: (rel) => b.hasher.fileHash(rel),
    knownHashes: await b.hasher.knownHashes(),
    images,
    resultRecord: cacheRecordFile(b.state.root, b.solved.target.key),
    // A layer made here exists as its dir until something makes its tar (solver/pending-layers.ts).
    needs: b.solved.target.layers.map((l) => (isPendingLayer(l) ? b.layerDir(l.diffId) : b.state.content.blobPath(l.blob))),
    events: b.events,
    imageId: b.imageId,
    history: await b.history,
  });
}

function parseEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `SOURCE_DATE_EPOCH must be a number of seconds, got "${value}"`);
  return Number(value);
}

async function loadSecrets(sources: SecretSource[], env: NodeJS.ProcessEnv): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const s of sources) {
    const envName = s.env ?? (s.src === undefined && env[s.id] !== undefined ? s.id : undefined);
    if (envName !== undefined) {
      const v = env[envName];
      if (v === undefined) throw new TsbuildError('ERR_TSBUILD_SECRET_NOT_FOUND', `secret ${s.id}: environment variable ${envName} is not set`);
      out.set(s.id, Buffer.from(v));
    } else {
      const file = s.src ?? s.id;
      try {
        out.set(s.id, await readFile(file));
      } catch (cause) {
        throw new TsbuildError('ERR_TSBUILD_SECRET_NOT_FOUND', `secret ${s.id}: cannot read ${file}`, { cause });
      }
    }
  }
  return out;
}

export type { Digest };
