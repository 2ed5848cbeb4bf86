/**
 * Writing the up-to-date record (record.ts) at the end of a build that may have one: the facts
 * come from the build (api.ts), this turns them into the record and refuses what it cannot
 * vouch for later.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { imageRecordFile } from '../cache/image-store.js';
import type { ContextListing } from '../context/checksum.js';
import type { LayerRef } from '../solver/cache-index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { digestHex, type Digest } from '../util/digest.js';
import { UP_TO_DATE_VERSION, upToDateFile, type TimelessEvent, type UpToDateRecord } from './record.js';

/** Racy files up to this size are kept whole in the record (compared without hashing). */
const RACY_INLINE = 64 << 10;
/** Lines of recently changed entries checked before the walk. */
const RECENT = 16;

/** The `n` lines with the latest ctime (statLine's seventh field). */
function mostRecent(lines: string[], n: number): string[] {
  const keyed = lines.map((line) => ({ line, ctime: BigInt(line.split('\0')[6] ?? '0') }));
  return keyed
    .sort((a, b) => (b.ctime > a.ctime ? 1 : b.ctime < a.ctime ? -1 : 0))
    .slice(0, n)
    .map((k) => k.line);
}

export interface UpToDateFacts {
  key: string;
  tool: string;
  stateRoot: string;
  /** Files read whole, with their text as read at the start of the build (latin1; null: absent). */
  files: Array<{ path: string; text: string | null }>;
  contextDir: string;
  listing: ContextListing;
  /** sha256 hex of a context file's content (the build's own hash, from its stat cache). */
  fileHash(rel: string): Promise<string | undefined>;
  images: Array<{ name: string; digest: string }>;
  /** The target's cache key and layer chain. */
  resultKey: Digest;
  layers: LayerRef[];
  events: TimelessEvent[];
  imageId: string;
}

/** Writes the record; false when the build's inputs cannot be vouched for by a later check. */
export async function saveUpToDate(facts: UpToDateFacts): Promise<boolean> {
  const racy: UpToDateRecord['context']['racy'] = [];
  for (const r of facts.listing.racy) {
    // A directory or link changed in the walk's tick has no content to compare: no record.
    if (r.type !== 'file') return false;
    const sha256 = await facts.fileHash(r.path);
    if (sha256 === undefined) return false;
    const data = await readFile(path.join(facts.contextDir, r.path)).catch(() => undefined);
    // Changed since the build hashed it: the record would vouch for content the build never used.
    if (!data || createHash('sha256').update(data).digest('hex') !== sha256) return false;
    racy.push(data.length <= RACY_INLINE ? { path: r.path, content: data.toString('base64') } : { path: r.path, sha256 });
  }
  const root = facts.stateRoot;
  const needs = facts.layers.map((l) =>
    // A layer made here exists as its dir until something makes its tar (solver/pending-layers.ts).
    l.pending ? path.join(root, 'snapshots', 'layers', digestHex(l.diffId)) : path.join(root, 'content', 'blobs', 'sha256', digestHex(l.blob)),
  );
  const recordFile = path.join(root, 'cache', 'keys', `${digestHex(facts.resultKey)}.json`);
  const recordText = await readFile(recordFile, 'latin1').catch(() => undefined);
  if (recordText === undefined) return false;
  await writeFileAtomic(upToDateFile(root, facts.key), JSON.stringify({
    version: UP_TO_DATE_VERSION,
    key: facts.key,
    tool: facts.tool,
    files: facts.files,
    context: { dir: facts.contextDir, lines: facts.listing.lines, skip: facts.listing.skipped, racy, recent: mostRecent(facts.listing.lines, RECENT) },
    images: facts.images.map((i) => ({ file: imageRecordFile(root, i.name), ...i })),
    result: { record: recordFile, text: recordText, needs },
    events: facts.events,
    imageId: facts.imageId,
  } satisfies UpToDateRecord));
  return true;
}

