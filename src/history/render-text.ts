/**
 * Text views of build records: the `tsbuild history` list, the per-step table of
 * `tsbuild history show ID`, and the cache-miss explanations (`--explain`).
 */
import path from 'node:path';
import type { BuildRecord, StepRecord } from './record.js';
import { ago, humanBytes, humanMs, table } from '../util/format.js';

function shortPath(p: string, cwd: string): string {
  const rel = path.relative(cwd, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** `tsbuild history`: one line per build, newest first. */
export function formatHistoryList(records: BuildRecord[], options: { now: number; cwd: string }): string {
  const rows = [['BUILD ID', 'CREATED', 'DOCKERFILE', 'TARGET', 'DURATION', 'STEPS', 'CACHED', 'STATUS']];
  for (const r of records) {
    rows.push([
      r.id,
      ago(r.startedAt, options.now),
      shortPath(r.dockerfile, options.cwd),
      r.target,
      humanMs(r.endedAt - r.startedAt),
      String(r.summary.steps),
      String(r.summary.cached),
      r.ok ? 'ok' : 'failed',
    ]);
  }
  return table(rows);
}

function cacheLabel(s: StepRecord): string {
  return s.cache === 'miss' ? (s.error !== undefined ? 'ERROR' : 'MISS') : s.cache === 'hit' ? 'CACHED' : 'CACHED*';
}

/** `tsbuild history show ID`: the build's facts, then one row per step. */
export function formatBuildRecord(r: BuildRecord, options: { cwd: string; explain?: boolean }): string {
  const lines = [
    `Build:       ${r.id}${r.ok ? '' : ' (failed)'}`,
    `Dockerfile:  ${shortPath(r.dockerfile, options.cwd)}`,
    `Target:      ${r.target}`,
    `Started:     ${new Date(r.startedAt).toISOString()}`,
    `Duration:    ${humanMs(r.endedAt - r.startedAt)} (steps ${humanMs(r.summary.stepsWallMs)}, cpu ${humanMs(r.summary.cpuMs)})`,
    `Steps:       ${r.summary.steps} (${r.summary.cached} cached, ${r.summary.executed} executed)`,
    ...(r.image ? [`Image:       ${r.image.configDigest}`] : []),
    ...(r.error ? [`Error:       ${r.error}`] : []),
    '',
  ];
  const rows = [['STEP', 'LINE', 'CACHE', 'WALL', 'CPU', 'CONTEXT', 'LAYER', 'UNCOMPRESSED', '+/~/-']];
  for (const s of r.steps) {
    rows.push([
      s.name,
      s.line === undefined ? '' : s.endLine !== undefined && s.endLine !== s.line ? `${s.line}-${s.endLine}` : String(s.line),
      cacheLabel(s),
      s.cache === 'miss' ? humanMs(s.wallMs) : '',
      s.cpuMs !== undefined ? humanMs(s.cpuMs) : '',
      s.contextBytes !== undefined ? `${humanBytes(s.contextBytes)} (${s.contextFiles ?? 0} files)` : '',
      s.layer && !s.layer.pending ? humanBytes(s.layer.size) : '',
      s.layer?.uncompressedSize !== undefined ? humanBytes(s.layer.uncompressedSize) : '',
      s.changes ? `${s.changes.added}/${s.changes.changed}/${s.changes.deleted}` : '',
    ]);
  }
  let out = lines.join('\n') + table(rows);
  if (r.steps.some((s) => s.cache === 'skipped')) out += '\nCACHED* = not looked up: a later step was a cache hit.\n';
  if (options.explain) out += `\n${formatExplanations(r)}`;
  return out;
}

/** The causes of every miss, as `build --explain` prints them. */
export function formatExplanations(r: BuildRecord): string {
  const misses = r.steps.filter((s) => s.cache === 'miss');
  if (misses.length === 0) return 'No cache misses: every step came from the cache.\n';
  return misses
    .map((s) => `CACHE MISS ${s.name}\n${(s.explain ?? [{ text: 'no explanation recorded' }]).map((c) => `  - ${c.text}\n`).join('')}`)
    .join('');
}
