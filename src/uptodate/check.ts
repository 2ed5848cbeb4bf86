/**
 * Whether an up-to-date record (record.ts) still describes the world: the same files, the same
 * context listing (files changed in the tick before it was taken, and files whose times alone
 * changed since, compared by content), the same image digests, and the build's result still in
 * the cache. Any doubt answers no: the full build then decides, and only costs its usual time.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { contextMatchesListing, differsOnlyInTimes, RACY_MS, statLine, type ListingTolerance } from '../context/listing.js';
import type { UpToDateRecord } from './record.js';

const read = (file: string, encoding?: 'latin1'): string | Buffer | null => {
  try {
    return encoding ? readFileSync(file, encoding) : readFileSync(file);
  } catch {
    return null;
  }
};

/**
 * Synchronous calls, and node:crypto only for a large racy file or a touched one. With a
 * 2,000-entry context the check takes ~25 ms, almost all of it one lstat per entry (~6 µs each
 * through Node's binding).
 */
export async function isUpToDate(record: UpToDateRecord, tool: string, refreshed?: Map<number, string>): Promise<boolean> {
  if (record.tool !== tool) return false;
  for (const f of record.files) if (read(f.path, 'latin1') !== f.text) return false;
  // The result first: a pruned cache means a rebuild whatever the inputs.
  if (read(record.result.record, 'latin1') !== record.result.text) return false;
  for (const p of record.result.needs) if (!statSync(p, { throwIfNoEntry: false })) return false;
  for (const img of record.images) {
    const text = read(img.file, 'latin1');
    const rec = typeof text === 'string' ? (JSON.parse(text) as { name?: string; digest?: string }) : undefined;
    if (rec?.name !== img.name || rec.digest !== img.digest) return false;
  }
  const { context } = record;
  // Files whose times alone changed (a touch, a checkout) are vouched for by content afterwards;
  // their lines as they are now go to `refreshed` (by listing index), unless changed too recently
  // for a stat to vouch for them next time.
  const touched = new Set<string>();
  const lines = new Map<number, string>();
  const tolerate: ListingTolerance = (rel, st, line, expected, index) => {
    if (!st.isFile() || !differsOnlyInTimes(line, expected)) return false;
    touched.add(rel);
    if (index >= 0 && st.ctimeMs < Date.now() - RACY_MS) lines.set(index, line);
    return true;
  };
  if (!recentUnchanged(context.dir, context.recent, tolerate)) return false;
  if (!contextMatchesListing(context.dir, new Set(context.skip), context.lines, tolerate)) return false;
  if (touched.size > 0 && !(await sameContent(context.dir, touched, context.hashes))) return false;
  for (const r of context.racy) {
    const data = read(`${context.dir}/${r.path}`);
    if (!Buffer.isBuffer(data)) return false;
    if (r.content !== undefined ? !data.equals(Buffer.from(r.content, 'base64')) : (await sha256Hex(data)) !== r.sha256) return false;
  }
  for (const [index, line] of lines) refreshed?.set(index, line);
  return true;
}

/** The recently changed entries as listed (an early no; the walk decides a yes). */
function recentUnchanged(dir: string, recent: readonly string[], tolerate: ListingTolerance): boolean {
  for (const line of recent) {
    const rel = line.slice(0, line.indexOf('\0'));
    const st = lstatSync(`${dir}/${rel}`, { throwIfNoEntry: false });
    if (!st) return false;
    const now = statLine(rel, st);
    if (now !== line && !tolerate(rel, st, now, line, -1)) return false;
  }
  return true;
}

/** Whether each of `paths` still holds the content the build hashed (record.ts `hashes`). */
async function sameContent(dir: string, paths: ReadonlySet<string>, hashes: string): Promise<boolean> {
  const known = new Map<string, string>();
  const fields = hashes.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) if (paths.has(fields[i]!)) known.set(fields[i]!, fields[i + 1]!);
  for (const p of paths) {
    const data = read(`${dir}/${p}`);
    if (!Buffer.isBuffer(data) || !known.has(p) || (await sha256Hex(data)) !== known.get(p)) return false;
  }
  return true;
}

// Loaded once, when first needed: the bundle turns each import() into a fresh copy of the
// module's namespace, ~45 µs apiece, which 2,000 touched files paid 2,000 times.
let cryptoModule: Promise<typeof import('node:crypto')> | undefined;

async function sha256Hex(data: Buffer): Promise<string> {
  const { createHash } = await (cryptoModule ??= import('node:crypto'));
  return createHash('sha256').update(data).digest('hex');
}
