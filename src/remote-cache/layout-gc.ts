/**
 * Keeps a local cache directory from growing without bound: after a new cache manifest replaces
 * a tag, blobs no index.json entry reaches any more are removed. This is the usual CI pattern
 * (--cache-from and --cache-to on the same dir, run after run); without it every run would
 * leave its superseded layers behind. Blobs written in the last `graceMs` are kept, because a
 * concurrent export may have written blobs whose manifest is not in index.json yet.
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDigest, type Digest } from '../util/digest.js';

type Doc = { manifests?: Array<{ digest?: string }>; config?: { digest?: string }; layers?: Array<{ digest?: string }>; subject?: { digest?: string } };

export async function pruneLayout(dir: string, options: { graceMs?: number } = {}): Promise<{ removed: number; bytes: number }> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  const fileOf = (d: Digest): string => path.join(blobs, d.slice('sha256:'.length));
  const reachable = new Set<Digest>();
  const visit = async (d: string | undefined): Promise<void> => {
    if (!isDigest(d) || reachable.has(d)) return;
    reachable.add(d);
    const st = await stat(fileOf(d)).catch(() => undefined);
    // Only small blobs can be manifests or indexes; layers are never parsed.
    if (!st || st.size > 4 << 20) return;
    let doc: Doc;
    try {
      doc = JSON.parse(await readFile(fileOf(d), 'utf8')) as Doc;
    } catch {
      return;
    }
    if (typeof doc !== 'object' || doc === null) return;
    for (const m of doc.manifests ?? []) await visit(m.digest);
    await visit(doc.config?.digest);
    for (const l of doc.layers ?? []) if (isDigest(l.digest)) reachable.add(l.digest);
  };
  let index: Doc;
  try {
    index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as Doc;
  } catch {
    return { removed: 0, bytes: 0 }; // no readable index: never delete anything
  }
  for (const m of index.manifests ?? []) await visit(m.digest);
  const cutoff = Date.now() - (options.graceMs ?? 600_000);
  let removed = 0;
  let bytes = 0;
  for (const name of await readdir(blobs).catch(() => [] as string[])) {
    const d = `sha256:${name}`;
    if (!isDigest(d) || reachable.has(d)) continue;
    const st = await stat(path.join(blobs, name)).catch(() => undefined);
    if (!st || st.mtimeMs > cutoff) continue;
    await rm(path.join(blobs, name), { force: true });
    removed++;
    bytes += st.size;
  }
  return { removed, bytes };
}
