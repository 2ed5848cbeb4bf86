/**
 * Context summaries: the files behind one context checksum, stored once per checksum under
 * history/context/<hex>.json (content-addressed, so an unchanged context writes nothing), and
 * diffed file by file to say which context files made a COPY miss the cache.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { digestHex, type Digest } from '../util/digest.js';
import { MAX_BUILD_RECORDS, historyDir, readBuildRecords, type ContextFileChange, type ContextSummary } from './record.js';

export function contextSummaryFile(root: string, digest: Digest): string {
  return path.join(historyDir(root), 'context', `${digestHex(digest)}.json`);
}

export async function readContextSummary(root: string, digest: Digest): Promise<ContextSummary | undefined> {
  try {
    return JSON.parse(await readFile(contextSummaryFile(root, digest), 'utf8')) as ContextSummary;
  } catch {
    return undefined;
  }
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** File-level changes from `before` to `after`, sorted by path. Directories count only when added, removed or re-moded. */
export function diffContextSummaries(before: ContextSummary, after: ContextSummary): ContextFileChange[] {
  const old = new Map(before.entries.map((e) => [e[0], e]));
  const out: ContextFileChange[] = [];
  for (const e of after.entries) {
    const [p, type, mode, uid, gid, content] = e;
    const o = old.get(p);
    old.delete(p);
    if (!o) {
      out.push({ path: p, how: 'added' });
      continue;
    }
    if (o[1] !== type) {
      out.push({ path: p, how: 'type', detail: `${o[1]} -> ${type}` });
      continue;
    }
    if (o[5] !== content) out.push({ path: p, how: 'content' });
    if (o[2] !== mode) out.push({ path: p, how: 'mode', detail: `${octal(o[2])} -> ${octal(mode)}` });
    if (o[3] !== uid || o[4] !== gid) out.push({ path: p, how: 'owner', detail: `${o[3]}:${o[4]} -> ${uid}:${gid}` });
  }
  for (const p of old.keys()) out.push({ path: p, how: 'removed' });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `a.txt (content, mode 0644 -> 0755); old.txt (removed)`: changes grouped by path, at most `max` paths. */
export function describeFileChanges(changes: ContextFileChange[], max = 10): string {
  const byPath = new Map<string, string[]>();
  for (const c of changes) byPath.set(c.path, [...(byPath.get(c.path) ?? []), `${c.how}${c.detail ? ` ${c.detail}` : ''}`]);
  const shown = [...byPath].slice(0, max).map(([p, hows]) => `${p} (${hows.join(', ')})`);
  if (byPath.size > max) shown.push(`and ${byPath.size - max} more`);
  return shown.join('; ');
}

/**
 * Removes summaries no record refers to any more. Records are pruned by count, summaries only
 * once they outnumber twice the record bound, so most builds pay for one readdir here.
 */
export async function pruneContextSummaries(root: string, options: { threshold?: number } = {}): Promise<number> {
  const dir = path.join(historyDir(root), 'context');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  if (names.length <= (options.threshold ?? 2 * MAX_BUILD_RECORDS)) return 0;
  const live = new Set<string>();
  for (const r of await readBuildRecords(root)) for (const s of r.steps) for (const c of s.context ?? []) live.add(`${digestHex(c.digest)}.json`);
  let removed = 0;
  for (const n of names) {
    if (live.has(n)) continue;
    await rm(path.join(dir, n), { force: true });
    removed++;
  }
  return removed;
}
