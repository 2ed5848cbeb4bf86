/** Human-readable numbers for CLI output, shared by every command that prints sizes or times. */

/** Sizes as docker prints them: decimal units, one decimal. */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)}${units[i]}`;
}

export function humanMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

/** How long ago `when` (ms since the epoch) was, in docker's words. */
export function ago(when: number, now: number): string {
  const s = Math.max(0, Math.round((now - when) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 86400) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** Column widths for left-aligned text columns `gap` spaces apart (missing cells count as empty). */
export function columnWidths(rows: string[][], gap = 3): number[] {
  return rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)) + gap);
}

/** Left-aligned text columns, one line per row, `gap` spaces apart. */
export function table(rows: string[][], gap = 3): string {
  const w = columnWidths(rows, gap);
  return rows.map((r) => `${r.map((c, i) => c.padEnd(w[i]!)).join('').trimEnd()}\n`).join('');
}
