/**
 * Reachability over the state root: garbage collection of blobs no image record (nor a caller's
 * extra roots, e.g. the solver's cache index) refers to, and the whole-root fsck.
 * Manifests and indexes are walked by their JSON shape (config, layers[], manifests[]) so that
 * cache/ does not depend on oci/.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Digest } from '../util/digest.js';
import { isDigest } from '../util/digest.js';
import { fsckContentStore } from './content-store.js';
import type { ContentStore, ImageStore } from './types.js';

interface Roots {
  root: string;
  content: ContentStore;
  images: ImageStore;
  lock(name: string): Promise<() => Promise<void>>;
}

/** Result of a whole-root check. `ok` is true when nothing committed is damaged or missing. */
export interface FsckReport {
  ok: boolean;
  blobs: number;
  corrupt: Digest[];
  /** Stale temp files (content ingest and image records) left by killed writers. */
  staleIngest: number;
  /** Image records whose manifest, config or layers are absent: name -> missing digests. */
  brokenImages: Array<{ name: string; missing: Digest[] }>;
}

type Json = { mediaType?: string; config?: { digest?: string }; layers?: Array<{ digest?: string }>; manifests?: Array<{ digest?: string }> };

/** Every digest reachable from `start`; missing blobs are reported, not thrown. */
async function walk(content: ContentStore, start: Digest, seen: Set<Digest>, missing: Digest[]): Promise<void> {
  if (seen.has(start)) return;
  seen.add(start);
  if (!(await content.has(start))) {
    missing.push(start);
    return;
  }
  const info = await content.stat(start);
  // Only small blobs can be manifests; never parse a layer.
  if (!info || info.size > 4 << 20) return;
  let doc: Json;
  try {
    doc = await content.readJson<Json>(start);
  } catch {
    return; // a config or a binary blob
  }
  if (typeof doc !== 'object' || doc === null) return;
  const children = [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest), ...(doc.manifests ?? []).map((m) => m.digest)];
  for (const d of children) {
    if (typeof d === 'string' && isDigest(d)) {
      if (doc.manifests) await walk(content, d, seen, missing);
      else if (!seen.has(d)) {
        seen.add(d);
        if (!(await content.has(d))) missing.push(d);
      }
    }
  }
}

/**
 * Deletes blobs unreachable from image records and from `keep`. Holds the "gc" lock; blobs
 * written in the last `graceMs` (default 10 min) are kept, because a concurrent build may have
 * written a layer whose image record does not exist yet.
 */
export async function collectGarbage(state: Roots, options: { keep?: Iterable<Digest>; graceMs?: number } = {}): Promise<{ removed: Digest[]; kept: number }> {
  const release = await state.lock('gc');
  try {
    const reachable = new Set<Digest>();
    for (const rec of await state.images.list()) await walk(state.content, rec.digest, reachable, []);
    for (const d of options.keep ?? []) await walk(state.content, d, reachable, []);
    const removed: Digest[] = [];
    let kept = 0;
    const cutoff = Date.now() - (options.graceMs ?? 600_000);
    for await (const info of state.content.list()) {
      if (reachable.has(info.digest)) {
        kept++;
        continue;
      }
      const st = await stat(state.content.blobPath(info.digest)).catch(() => undefined);
      if (st && st.mtimeMs > cutoff) {
        kept++;
        continue;
      }
      await state.content.delete(info.digest);
      removed.push(info.digest);
    }
    return { removed, kept };
  } finally {
    await release();
  }
}

/** Re-hashes every blob, clears stale ingest files (with `repair`), and checks every image record's blobs. */
export async function fsckStateRoot(state: Roots, options: { repair?: boolean } = {}): Promise<FsckReport> {
  const c = await fsckContentStore(state.content, options.repair !== undefined ? { repair: options.repair } : {});
  const brokenImages: FsckReport['brokenImages'] = [];
  for (const rec of await state.images.list()) {
    const missing: Digest[] = [];
    await walk(state.content, rec.digest, new Set(), missing);
    if (missing.length) brokenImages.push({ name: rec.name, missing });
  }
  // Temp records of killed writers (<record>.json.<pid>.tmp) are never read; clear them.
  let staleIngest = c.staleIngest;
  const dir = path.join(state.root, 'images');
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/\.(\d+)\.tmp$/.exec(n)?.[1]);
    if (!pid || pidAlive(pid)) continue;
    staleIngest++;
    if (options.repair) await rm(path.join(dir, n), { force: true });
  }
  return { ok: c.corrupt.length === 0 && brokenImages.length === 0, blobs: c.blobs, corrupt: c.corrupt, staleIngest, brokenImages };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ------------------------------------------------------------------ du and LRU prune

/**
 * The on-disk cache index as gc sees it. The solver writes one JSON file per cache key under
 * <root>/cache/keys/ (solver/cache-index.ts) and touches its mtime on every hit, so the mtime is
 * the record's last use. gc reads the files directly (cache/ must not import solver/) and
 * needs only the layer chain of each record.
 */
export interface CacheRecordUsage {
  key: string;
  file: string;
  layers: Array<{ diffId: Digest; blob: Digest; size: number }>;
  lastUsed: Date;
  /** Bytes only this record's chain holds on top of its parent chain (its own top layer). */
  size: number;
  /** Whether prune (with no grace) could drop it and what it alone holds. */
  reclaimable: boolean;
}

/** One kind of thing in the state root with its count and bytes. */
export interface UsageGroup {
  count: number;
  bytes: number;
  /** Bytes prune --all would free (everything images do not hold), ignoring the grace period. */
  reclaimable: number;
}

/** What `tsbuild du` reports. */
export interface DiskUsage {
  root: string;
  records: CacheRecordUsage[];
  cacheRecords: UsageGroup;
  blobs: UsageGroup;
  layers: UsageGroup;
  cacheMounts: UsageGroup;
  /** Build-cache bytes: blobs and unpacked layers no image holds, plus cache mounts. */
  buildCache: number;
  total: number;
  reclaimable: number;
}

interface Item {
  kind: 'record' | 'mount';
  id: string;
  path: string;
  lastUsed: number;
  blobs: Digest[];
  diffIds: Digest[];
  bytes: number;
}

interface Model {
  records: Array<CacheRecordUsage & { blobs: Digest[]; diffIds: Digest[] }>;
  blobSizes: Map<Digest, { size: number; mtimeMs: number }>;
  layerDirs: Map<string, { bytes: number; changedMs: number }>;
  mounts: Item[];
  imageBlobs: Set<Digest>;
  imageDiffIds: Set<string>;
}

type ImageJson = Json & { rootfs?: { diff_ids?: string[] } };

/** Blobs and diff_ids held by image records: every manifest of an index, its config and layers. */
async function imageHeld(state: Roots): Promise<{ blobs: Set<Digest>; diffIds: Set<string> }> {
  const blobs = new Set<Digest>();
  const diffIds = new Set<string>();
  const visit = async (d: Digest): Promise<void> => {
    if (blobs.has(d)) return;
    blobs.add(d);
    const info = await state.content.stat(d);
    if (!info || info.size > 4 << 20) return;
    let doc: ImageJson;
    try {
      doc = await state.content.readJson<ImageJson>(d);
    } catch {
      return;
    }
    if (typeof doc !== 'object' || doc === null) return;
    for (const id of doc.rootfs?.diff_ids ?? []) if (typeof id === 'string' && isDigest(id)) diffIds.add(digestHexOf(id));
    for (const m of doc.manifests ?? []) if (typeof m.digest === 'string' && isDigest(m.digest)) await visit(m.digest);
    if (typeof doc.config?.digest === 'string' && isDigest(doc.config.digest)) await visit(doc.config.digest);
    for (const l of doc.layers ?? []) if (typeof l.digest === 'string' && isDigest(l.digest)) blobs.add(l.digest);
  };
  for (const rec of await state.images.list()) await visit(rec.digest);
  return { blobs, diffIds };
}

const digestHexOf = (d: string): string => d.slice(d.indexOf(':') + 1);

/**
 * Apparent size of a tree (regular files and symlinks), without following links. A file with several links (COPY reuse links unchanged files between
 * the layer dirs of successive builds, solver/ops/copy-reuse.ts) counts 1/nlink in each place,
 * so that the layers' sizes add up to what they hold together.
 */
async function treeBytes(p: string): Promise<number> {
  let total = 0;
  const st = await lstat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() && st.nlink > 1 ? st.size / st.nlink : st.size;
  for (const n of await readdir(p).catch(() => [] as string[])) total += await treeBytes(path.join(p, n));
  return total;
}

/** Last change of a dir: ctime moves on rename (adoption of a built layer) and on chown (each use of a cache mount). */
const changedMs = (st: { mtimeMs: number; ctimeMs: number }): number => Math.max(st.mtimeMs, st.ctimeMs);

async function readModel(state: Roots): Promise<Model> {
  const held = await imageHeld(state);
  const blobSizes: Model['blobSizes'] = new Map();
  for await (const info of state.content.list()) {
    const st = await stat(state.content.blobPath(info.digest)).catch(() => undefined);
    if (st) blobSizes.set(info.digest, { size: st.size, mtimeMs: st.mtimeMs });
  }
  const layersRoot = path.join(state.root, 'snapshots', 'layers');
  const layerDirs: Model['layerDirs'] = new Map();
  for (const n of await readdir(layersRoot).catch(() => [] as string[])) {
    const st = await lstat(path.join(layersRoot, n)).catch(() => undefined);
    if (st?.isDirectory()) layerDirs.set(n, { bytes: Math.round(await treeBytes(path.join(layersRoot, n))), changedMs: changedMs(st) });
  }
  // Compressed variants of a layer (exporter/convert-layers.ts) are held by the records that hold
  // its diff_id: new layers are stored uncompressed and their export blobs are variants, so pruning
  // them while the record stays would only cost a recompression on the next export.
  const variants = new Map<Digest, Digest[]>();
  try {
    const raw = JSON.parse(await readFile(path.join(state.root, 'cache', 'compression-variants.json'), 'utf8')) as Record<string, { blob?: unknown }>;
    for (const [k, v] of Object.entries(raw)) {
      const diffId = k.split(' ')[0];
      if (isDigest(diffId) && isDigest(v?.blob)) variants.set(diffId, [...(variants.get(diffId) ?? []), v.blob]);
    }
  } catch {
    // no index (or an unreadable one): no variants to keep
  }
  // Tars made for pending layers (solver/pending-layers.ts: layer-diffs/<id hex>.json names the
  // tar's diff_id): a record holding the layer's id holds that tar and its variants too.
  const madeTars = new Map<string, Digest>();
  const diffsDir = path.join(state.root, 'cache', 'layer-diffs');
  for (const n of await readdir(diffsDir).catch(() => [] as string[])) {
    if (!n.endsWith('.json')) continue;
    const diffId = await readFile(path.join(diffsDir, n), 'utf8').then((t) => (JSON.parse(t) as { diffId?: unknown }).diffId, () => undefined);
    if (isDigest(diffId)) madeTars.set(n.slice(0, -5), diffId);
  }
  const blobsOf = (l: { diffId: Digest; blob: Digest }): Digest[] => {
    const tar = madeTars.get(digestHexOf(l.diffId));
    return [l.blob, ...(variants.get(l.diffId) ?? []), ...(tar ? [tar, ...(variants.get(tar) ?? [])] : [])];
  };
  const keysDir = path.join(state.root, 'cache', 'keys');
  const records: Model['records'] = [];
  for (const n of await readdir(keysDir).catch(() => [] as string[])) {
    if (!n.endsWith('.json')) continue;
    const file = path.join(keysDir, n);
    try {
      const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      const rec = JSON.parse(text) as { key?: string; layers?: Array<{ diffId: Digest; blob: Digest; size: number }> };
      const layers = Array.isArray(rec.layers) ? rec.layers.filter((l) => isDigest(l.blob) && isDigest(l.diffId)) : [];
      const top = layers.at(-1);
      const topBlobs = top ? [...new Set(blobsOf(top))].filter((b) => !held.blobs.has(b)) : [];
      const size = top && !held.blobs.has(top.blob) ? topBlobs.reduce((n, b) => n + (blobSizes.get(b)?.size ?? 0), 0) + (layerDirs.get(digestHexOf(top.diffId))?.bytes ?? 0) : 0;
      records.push({ key: rec.key ?? `sha256:${n.slice(0, -5)}`, file, layers, lastUsed: st.mtime, size, reclaimable: true, blobs: layers.flatMap(blobsOf), diffIds: layers.map((l) => l.diffId) });
    } catch {
      // a record being replaced or unreadable: the index ignores it too
    }
  }
  const mountsRoot = path.join(state.root, 'cache-mounts');
  const mounts: Item[] = [];
  for (const n of await readdir(mountsRoot).catch(() => [] as string[])) {
    const p = path.join(mountsRoot, n);
    const st = await lstat(p).catch(() => undefined);
    if (st) mounts.push({ kind: 'mount', id: n, path: p, lastUsed: changedMs(st), blobs: [], diffIds: [], bytes: Math.round(await treeBytes(p)) });
  }
  return { records, blobSizes, layerDirs, mounts, imageBlobs: held.blobs, imageDiffIds: held.diffIds };
}

/** Disk usage of the state root, grouped as `docker buildx du` groups it. */
export async function diskUsage(state: Roots): Promise<DiskUsage> {
  const m = await readModel(state);
  const sum = (xs: Iterable<number>): number => [...xs].reduce((a, b) => a + b, 0);
  const blobBytes = sum([...m.blobSizes.values()].map((b) => b.size));
  const blobFree = sum([...m.blobSizes].filter(([d]) => !m.imageBlobs.has(d)).map(([, b]) => b.size));
  const layerBytes = sum([...m.layerDirs.values()].map((l) => l.bytes));
  const layerFree = sum([...m.layerDirs].filter(([h]) => !m.imageDiffIds.has(h)).map(([, l]) => l.bytes));
  const mountBytes = sum(m.mounts.map((x) => x.bytes));
  // Record bytes are what the records alone hold: blobs and layers of their chains that no image holds.
  const recordBlobs = new Set(m.records.flatMap((r) => r.blobs).filter((b) => !m.imageBlobs.has(b)));
  const recordDirs = new Set(m.records.flatMap((r) => r.diffIds.map(digestHexOf)).filter((h) => !m.imageDiffIds.has(h)));
  const recordBytes = sum([...recordBlobs].map((b) => m.blobSizes.get(b)?.size ?? 0)) + sum([...recordDirs].map((h) => m.layerDirs.get(h)?.bytes ?? 0));
  const records = m.records
    .map(({ blobs: _b, diffIds: _d, ...r }) => r)
    .sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
  return {
    root: state.root,
    records,
    cacheRecords: { count: records.length, bytes: recordBytes, reclaimable: recordBytes },
    blobs: { count: m.blobSizes.size, bytes: blobBytes, reclaimable: blobFree },
    layers: { count: m.layerDirs.size, bytes: layerBytes, reclaimable: layerFree },
    cacheMounts: { count: m.mounts.length, bytes: mountBytes, reclaimable: mountBytes },
    buildCache: blobFree + layerFree + mountBytes,
    total: blobBytes + layerBytes + mountBytes,
    reclaimable: blobFree + layerFree + mountBytes,
  };
}

/** Options of pruneStateRoot. */
export interface PruneOptions {
  /** Keep at most this many bytes of build cache (blobs and layers no image holds, plus cache mounts). */
  keepStorage?: number;
  /** Drop every cache record and cache mount (still subject to the grace period). */
  all?: boolean;
  /**
   * Nothing written or used in the last `graceMs` (default 10 min) is deleted. Builds do not
   * hold the gc lock: a concurrent build may have written a blob or unpacked a layer whose cache
   * record or image record does not exist yet, or be using a record it just read. Such data is
   * younger than any build step, so the grace period keeps it.
   */
  graceMs?: number;
}

/** What prune removed and what the build cache holds afterwards. */
export interface PruneReport {
  records: number;
  mounts: number;
  blobs: number;
  layers: number;
  reclaimed: number;
  /** Build-cache bytes left (same measure as DiskUsage.buildCache). */
  remaining: number;
  /** False when grace-protected data alone exceeds keepStorage. */
  capHeld: boolean;
}

/**
 * LRU garbage collection under the exclusive "gc" lock: cache records and cache mounts are
 * dropped least recently used first until the build cache fits in `keepStorage` (all of them
 * with `all`); then blobs reachable from neither a kept record nor an image record, and unpacked
 * layers whose diff_id belongs to neither, are deleted.
 */
export async function pruneStateRoot(state: Roots, options: PruneOptions = {}): Promise<PruneReport> {
  const release = await state.lock('gc');
  try {
    const m = await readModel(state);
    const cutoff = Date.now() - (options.graceMs ?? 600_000);
    const items: Item[] = [
      ...m.records.map((r): Item => ({ kind: 'record', id: r.key, path: r.file, lastUsed: r.lastUsed.getTime(), blobs: r.blobs, diffIds: r.diffIds, bytes: 0 })),
      ...m.mounts,
    ].sort((a, b) => a.lastUsed - b.lastUsed);
    // Reference counts of cache-only blobs and layers over the kept items; a count reaching 0 frees its bytes.
    const blobRefs = new Map<Digest, number>();
    const dirRefs = new Map<string, number>();
    for (const it of items) {
      for (const b of new Set(it.blobs)) if (!m.imageBlobs.has(b)) blobRefs.set(b, (blobRefs.get(b) ?? 0) + 1);
      for (const h of new Set(it.diffIds.map(digestHexOf))) if (!m.imageDiffIds.has(h)) dirRefs.set(h, (dirRefs.get(h) ?? 0) + 1);
    }
    // Unreferenced data counts as cache until the sweep removes it (or the grace period keeps it).
    const young = (ms: number): boolean => ms > cutoff;
    let orphanBytes = 0;
    for (const [d, b] of m.blobSizes) if (!m.imageBlobs.has(d) && !blobRefs.has(d) && young(b.mtimeMs)) orphanBytes += b.size;
    for (const [h, l] of m.layerDirs) if (!m.imageDiffIds.has(h) && !dirRefs.has(h) && young(l.changedMs)) orphanBytes += l.bytes;
    let held = orphanBytes;
    for (const [d] of blobRefs) held += m.blobSizes.get(d)?.size ?? 0;
    for (const [h] of dirRefs) held += m.layerDirs.get(h)?.bytes ?? 0;
    for (const it of m.mounts) held += it.bytes;

    const cap = options.all ? 0 : options.keepStorage;
    const drop: Item[] = [];
    if (cap !== undefined) {
      for (const it of items) {
        if (held <= cap && !options.all) break;
        if (young(it.lastUsed)) continue;
        drop.push(it);
        held -= it.bytes;
        for (const b of new Set(it.blobs)) {
          const n = blobRefs.get(b);
          if (n === undefined) continue;
          if (n > 1) blobRefs.set(b, n - 1);
          else {
            blobRefs.delete(b);
            const info = m.blobSizes.get(b);
            if (info && !young(info.mtimeMs)) held -= info.size;
          }
        }
        for (const h of new Set(it.diffIds.map(digestHexOf))) {
          const n = dirRefs.get(h);
          if (n === undefined) continue;
          if (n > 1) dirRefs.set(h, n - 1);
          else {
            dirRefs.delete(h);
            const info = m.layerDirs.get(h);
            if (info && !young(info.changedMs)) held -= info.bytes;
          }
        }
      }
    }

    const report: PruneReport = { records: 0, mounts: 0, blobs: 0, layers: 0, reclaimed: 0, remaining: held, capHeld: cap === undefined || held <= cap };
    for (const it of drop) {
      if (it.kind === 'record') {
        await rm(it.path, { force: true });
        report.records++;
      } else {
        await removeTree(state.root, it.path);
        report.mounts++;
        report.reclaimed += it.bytes;
      }
    }
    // Sweep: a blob or unpacked layer survives if an image or a kept record holds it, or it is young.
    for (const [d, b] of m.blobSizes) {
      if (m.imageBlobs.has(d) || blobRefs.has(d) || young(b.mtimeMs)) continue;
      const st = await stat(state.content.blobPath(d)).catch(() => undefined);
      if (!st || young(st.mtimeMs)) continue; // rewritten since we looked
      await state.content.delete(d);
      report.blobs++;
      report.reclaimed += b.size;
    }
    const layersRoot = path.join(state.root, 'snapshots', 'layers');
    for (const [h, l] of m.layerDirs) {
      if (m.imageDiffIds.has(h) || dirRefs.has(h) || young(l.changedMs)) continue;
      await removeTree(state.root, path.join(layersRoot, h));
      report.layers++;
      report.reclaimed += l.bytes;
    }
    if (report.blobs > 0) await forgetDeletedVariants(state);
    if (report.records > 0) await forgetUpToDateRecords(state);
    if (report.layers > 0) {
      await forgetCopyRecords(state);
      await forgetLayerDiffs(state);
    }
    return report;
  } finally {
    await release();
  }
}

/**
 * Drops compression-variants.json entries whose blob is gone, so the index (one entry per
 * exported new layer and setting) does not grow without bound; a converter that read the index
 * earlier sees the blob missing and converts again.
 */
async function forgetDeletedVariants(state: Roots): Promise<void> {
  const file = path.join(state.root, 'cache', 'compression-variants.json');
  const release = await state.lock('compression-variants');
  try {
    let raw: Record<string, { blob?: unknown }>;
    try {
      raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, { blob?: unknown }>;
    } catch {
      return;
    }
    const kept: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) if (isDigest(v?.blob) && (await state.content.has(v.blob))) kept[k] = v;
    if (Object.keys(kept).length === Object.keys(raw).length) return;
    // A failed rewrite leaves the old index: its stale entries are only checked again.
    await writeFileAtomic(file, `${JSON.stringify(kept, null, 1)}\n`).catch(() => {});
  } finally {
    await release();
  }
}

/**
 * Drops the COPY reuse records (solver/ops/copy-reuse.ts: one per COPY definition, naming the
 * layer that COPY made last) whose layer dir is gone: they could only ever say "copy again".
 */
async function forgetCopyRecords(state: Roots): Promise<void> {
  const dir = path.join(state.root, 'cache', 'copy-reuse');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const layer = await readFile(file, 'utf8').then((t) => (JSON.parse(t) as { layer?: unknown }).layer, () => undefined);
    const gone = !isDigest(layer) || !(await stat(path.join(state.root, 'snapshots', 'layers', digestHexOf(layer))).catch(() => undefined));
    if (gone) await rm(file, { force: true });
  }
}

/**
 * Drops the up-to-date records (src/uptodate/record.ts: one per build invocation, naming the
 * cache record of its result) whose cache record prune removed: they could only ever say "build".
 */
async function forgetUpToDateRecords(state: Roots): Promise<void> {
  const dir = path.join(state.root, 'cache', 'up-to-date');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const result = await readFile(file, 'utf8').then((t) => (JSON.parse(t) as { result?: { record?: unknown } }).result?.record, () => undefined);
    if (typeof result !== 'string' || !(await stat(result).catch(() => undefined))) await rm(file, { force: true });
  }
}

/**
 * Drops the layer-diffs files (solver/pending-layers.ts) of layers whose dir is gone: no record
 * can name those layers any more (a record whose layer dir is pruned is dropped with it).
 */
async function forgetLayerDiffs(state: Roots): Promise<void> {
  const dir = path.join(state.root, 'cache', 'layer-diffs');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    if (!(await stat(path.join(state.root, 'snapshots', 'layers', name.slice(0, -5))).catch(() => undefined))) await rm(path.join(dir, name), { force: true });
  }
}

/**
 * Removes a directory by first renaming it into snapshots/tmp/<pid>-gc-…: a half-deleted
 * layer dir left in place would look like a complete unpacked layer to the snapshotter, while a
 * renamed one is invisible at once, and if we are killed the snapshotter's orphan sweep (keyed
 * by the dead pid in the name) finishes the job.
 */
async function removeTree(root: string, dir: string): Promise<void> {
  const tmp = path.join(root, 'snapshots', 'tmp');
  await mkdir(tmp, { recursive: true });
  const aside = path.join(tmp, `${process.pid}-gc-${randomBytes(6).toString('hex')}`);
  try {
    await rename(dir, aside);
  } catch {
    return; // already gone
  }
  await rm(aside, { recursive: true, force: true });
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/**
 * Parses a size such as 512MB, 2GiB, 1.5g or 1000. As in docker's --keep-storage (go-units
 * RAMInBytes), MB and MiB both mean 1024² bytes. Returns undefined for anything else.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}
