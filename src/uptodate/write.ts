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
import type { AnsweredBuildRecord } from '../history/record.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UP_TO_DATE_VERSION, upToDateFile, type TimelessEvent, type UpToDateRecord } from './record.js';

/** Racy files up to this size, and up to this many, are kept whole in the record (compared without hashing). */
const RACY_INLINE = 64 << 10;
const RACY_INLINE_FILES = 64;
/** Lines of recently changed entries checked before the walk. */
const RECENT = 16;

/** The `n` lines with the latest ctime (statLine's seventh field), latest first. */
function mostRecent(lines: string[], n: number): string[] {
  // The next-to-last field, found from the end: splitting 2,000 lines cost the build's end ~3 ms.
  const ctime = lines.map((line) => {
    const end = line.lastIndexOf('\0');
    return Number(line.slice(line.lastIndexOf('\0', end - 1) + 1, end));
  });
  return [...lines.keys()]
    .sort((a, b) => ctime[b]! - ctime[a]!)
    .slice(0, n)
    .map((i) => lines[i]!);
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
  /** The content hashes the build knew without reading anything more (ContextHasher.knownHashes). */
  knownHashes: ReadonlyMap<string, string>;
  images: Array<{ name: string; digest: string }>;
  /** The cache record file of the target's result, and the files its layers need (a dir or a blob each). */
  resultRecord: string;
  needs: string[];
  events: TimelessEvent[];
  imageId: string;
  history?: AnsweredBuildRecord | undefined;
}

/** Writes the record; false when the build's inputs cannot be vouched for by a later check. */
export async function saveUpToDate(facts: UpToDateFacts): Promise<boolean> {
  const racy: UpToDateRecord['context']['racy'] = [];
  // A few small racy files (an edit just before the build) are kept whole, so that the check
  // compares them without loading node:crypto; a fresh checkout, all racy, keeps the hashes.
  const inline = facts.listing.racy.length <= RACY_INLINE_FILES;
  for (const r of facts.listing.racy) {
    // A directory or link changed in the walk's tick has no content to compare: no record.
    if (r.type !== 'file') return false;
    const sha256 = await facts.fileHash(r.path);
    if (sha256 === undefined) return false;
    const data = inline ? await readFile(path.join(facts.contextDir, r.path)).catch(() => undefined) : undefined;
    // Kept whole only as the build hashed it: changed since, the hash stands for what it used.
    if (data && data.length <= RACY_INLINE && createHash('sha256').update(data).digest('hex') === sha256) racy.push({ path: r.path, content: data.toString('base64') });
    else racy.push({ path: r.path, sha256 });
  }
  const racyPaths = new Set(racy.map((r) => r.path));
  let hashes = '';
  for (const [rel, sha256] of facts.knownHashes) if (!racyPaths.has(rel)) hashes += `${rel}\0${sha256}\0`;
  const recordText = await readFile(facts.resultRecord, 'latin1').catch(() => undefined);
  if (recordText === undefined) return false;
  const root = facts.stateRoot;
  await writeFileAtomic(upToDateFile(root, facts.key), JSON.stringify({
    version: UP_TO_DATE_VERSION,
    key: facts.key,
    tool: facts.tool,
    files: facts.files,
    context: { dir: facts.contextDir, lines: facts.listing.lines, skip: facts.listing.skipped, racy, recent: mostRecent(facts.listing.lines, RECENT), hashes },
    images: facts.images.map((i) => ({ file: imageRecordFile(root, i.name), ...i })),
    result: { record: facts.resultRecord, text: recordText, needs: facts.needs },
    events: facts.events,
    imageId: facts.imageId,
    ...(facts.history ? { history: facts.history } : {}),
  } satisfies UpToDateRecord));
  return true;
}

