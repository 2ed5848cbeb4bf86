/**
 * Reachability over the state root: garbage collection of blobs no image record (nor a caller's
 * extra roots, e.g. the solver's cache index) refers to, and the whole-root fsck.
 * Manifests and indexes are walked by their JSON shape (config, layers[], manifests[]) so that
 * cache/ does not depend on oci/.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
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
