/**
 * A build as a picture: one lane per stage (stages run in parallel, so their bars overlap in
 * time), one row per step inside its lane, bars on a shared time axis. Cached steps are grey
 * ticks, executed steps blue bars, and the critical path (the chain of executed steps that
 * gated the end of the build) is red. Plain SVG 1.1 with no scripts or external resources, so
 * any browser, image viewer or `rsvg-convert` shows it; `html` wraps it in a page.
 */
import path from 'node:path';
import type { BuildRecord, StepRecord } from './record.js';
import { humanBytes, humanMs } from '../util/format.js';

const WIDTH = 1200;
const LABEL_W = 440;
const RIGHT_PAD = 70;
const ROW_H = 22;
const LANE_HEAD = 22;
const TOP = 64;
const COLORS = { run: '#4c78a8', critical: '#e45756', cached: '#b0b0b0', lane: ['#f4f6fa', '#ffffff'], text: '#1a1a1a', axis: '#888888' };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * The critical path: start from the executed step that ended last and walk back through the
 * executed parent that ended last (the input the step was waiting for), until a step whose
 * parents were all cached or absent.
 */
export function criticalPath(r: BuildRecord): Set<string> {
  const byId = new Map(r.steps.map((s) => [s.id, s]));
  const ran = (s: StepRecord | undefined): s is StepRecord & { endedAt: number } => s !== undefined && s.cache === 'miss' && s.endedAt !== undefined;
  const out = new Set<string>();
  let cur = r.steps.filter(ran).sort((a, b) => b.endedAt - a.endedAt)[0];
  while (cur && !out.has(cur.id)) {
    out.add(cur.id);
    cur = cur.inputs
      .map((i) => byId.get(i.ref))
      .filter(ran)
      .sort((a, b) => b.endedAt - a.endedAt)[0];
  }
  return out;
}

function niceStep(spanMs: number): number {
  const raw = spanMs / 8;
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
  return 10 * pow;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function renderBuildSvg(r: BuildRecord): string {
  const t0 = r.startedAt;
  const span = Math.max(r.endedAt - t0, 1);
  const tw = WIDTH - LABEL_W - RIGHT_PAD;
  const xOf = (t: number): number => LABEL_W + (Math.min(Math.max(t - t0, 0), span) / span) * tw;
  const critical = criticalPath(r);
  // Lanes in Dockerfile order (the record lists steps in dependency order).
  const firstLine = new Map<string, number>();
  for (const s of r.steps) firstLine.set(s.stage, Math.min(firstLine.get(s.stage) ?? Infinity, s.line ?? Infinity));
  const stages = [...firstLine.keys()].sort((a, b) => firstLine.get(a)! - firstLine.get(b)!);

  const body: string[] = [];
  let y = TOP;
  stages.forEach((stage, li) => {
    const steps = r.steps.filter((s) => s.stage === stage).sort((a, b) => a.position - b.position);
    const h = LANE_HEAD + steps.length * ROW_H;
    body.push(`<g class="lane" data-stage="${escapeXml(stage)}">`);
    body.push(`<rect x="0" y="${y}" width="${WIDTH}" height="${h}" fill="${COLORS.lane[li % 2]}"/>`);
    body.push(`<text x="8" y="${y + 15}" font-weight="bold" class="stage">stage ${escapeXml(stage)}</text>`);
    let rowY = y + LANE_HEAD;
    for (const s of steps) {
      const onPath = critical.has(s.id);
      // ~7.2 px per character at 12 px monospace: keep labels inside the label column.
      const label = truncate(s.name, 56);
      body.push(`<g class="step${s.cache === 'miss' ? '' : ' cached'}${onPath ? ' critical' : ''}" data-step="${escapeXml(s.id)}">`);
      body.push(`<title>${escapeXml(tooltip(s))}</title>`);
      body.push(`<text x="16" y="${rowY + 15}" class="label">${escapeXml(label)}</text>`);
      const end = s.endedAt ?? s.startedAt ?? t0;
      const start = s.startedAt ?? t0;
      if (s.cache === 'miss') {
        const x = xOf(start);
        const w = Math.max(2, xOf(end) - x);
        body.push(`<rect x="${x.toFixed(1)}" y="${rowY + 4}" width="${w.toFixed(1)}" height="${ROW_H - 8}" rx="2" fill="${onPath ? COLORS.critical : COLORS.run}"${s.error !== undefined ? ' stroke="#000" stroke-dasharray="3 2"' : ''}/>`);
        body.push(`<text x="${(x + w + 4).toFixed(1)}" y="${rowY + 15}" class="dur">${escapeXml(s.error !== undefined ? 'failed' : humanMs(s.wallMs))}</text>`);
      } else {
        const x = xOf(start);
        body.push(`<rect x="${x.toFixed(1)}" y="${rowY + 6}" width="6" height="${ROW_H - 12}" fill="${COLORS.cached}"/>`);
        body.push(`<text x="${(x + 10).toFixed(1)}" y="${rowY + 15}" class="dur">CACHED</text>`);
      }
      body.push('</g>');
      rowY += ROW_H;
    }
    body.push('</g>');
    y += h;
  });

  // Time axis over the bar area, with grid lines through the lanes.
  const axis: string[] = [];
  const step = niceStep(span);
  for (let t = 0; t <= span; t += step) {
    const x = xOf(t0 + t);
    axis.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 6}" x2="${x.toFixed(1)}" y2="${y}" stroke="#ddd"/>`);
    axis.push(`<text x="${x.toFixed(1)}" y="${TOP - 10}" text-anchor="middle" class="tick">${escapeXml(humanMs(t))}</text>`);
  }

  const legendY = y + 24;
  const legend = [
    `<rect x="16" y="${legendY - 10}" width="14" height="10" fill="${COLORS.run}"/><text x="36" y="${legendY}" class="tick">executed</text>`,
    `<rect x="116" y="${legendY - 10}" width="14" height="10" fill="${COLORS.critical}"/><text x="136" y="${legendY}" class="tick">critical path</text>`,
    `<rect x="246" y="${legendY - 10}" width="6" height="10" fill="${COLORS.cached}"/><text x="258" y="${legendY}" class="tick">cached</text>`,
  ];
  const height = legendY + 16;
  const title = `tsbuild build ${r.id}: ${path.basename(r.dockerfile)} target ${r.target}, ${humanMs(r.endedAt - r.startedAt)}, ${r.summary.steps} steps (${r.summary.cached} cached)${r.ok ? '' : ', failed'}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans Mono, monospace" font-size="12" fill="${COLORS.text}">`,
    `<title>${escapeXml(title)}</title>`,
    `<style>.tick{fill:${COLORS.axis};font-size:11px}.dur{font-size:11px}.stage{font-size:12px}</style>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="22" font-size="15" font-weight="bold" class="title">${escapeXml(title)}</text>`,
    ...axis,
    ...body,
    ...legend,
    `</svg>`,
    '',
  ].join('\n');
}

function tooltip(s: StepRecord): string {
  const parts = [s.name, s.line !== undefined ? `line ${s.line}` : '', s.cache === 'miss' ? `wall ${humanMs(s.wallMs)}` : s.cache === 'hit' ? 'cache hit' : 'cached (not looked up)'];
  if (s.cpuMs !== undefined) parts.push(`cpu ${humanMs(s.cpuMs)}`);
  if (s.layer?.pending) parts.push(`layer ${s.layer.uncompressedSize !== undefined ? `${humanBytes(s.layer.uncompressedSize)} ` : ''}(no tar yet: not exported)`);
  else if (s.layer) parts.push(`layer ${humanBytes(s.layer.size)}${s.layer.uncompressedSize !== undefined ? ` (${humanBytes(s.layer.uncompressedSize)} uncompressed)` : ''}`);
  if (s.explain) parts.push(...s.explain.map((c) => `miss: ${c.text}`));
  return parts.filter(Boolean).join('\n');
}

/** A standalone page around the SVG (what `--format html` prints). */
export function renderBuildHtml(r: BuildRecord): string {
  const svg = renderBuildSvg(r).replace(/^<\?xml[^>]*>\n/, '');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>tsbuild build ${escapeXml(r.id)}</title>`,
    '<style>body{font-family:sans-serif;margin:16px;background:#fff;color:#1a1a1a}svg{max-width:100%;height:auto}' +
      'table{border-collapse:collapse;margin-top:16px;font-size:13px}th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}' +
      'td.n{text-align:right}code{font-size:12px}ul{margin:0;padding-left:16px}</style>',
    '</head>',
    '<body>',
    `<h1>Build ${escapeXml(r.id)}</h1>`,
    `<p>${escapeXml(r.dockerfile)} · target ${escapeXml(r.target)} · ${escapeXml(new Date(r.startedAt).toISOString())} · ${escapeXml(humanMs(r.endedAt - r.startedAt))}</p>`,
    svg,
    stepTable(r),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The record's numbers under the picture, with the cache-miss causes. */
function stepTable(r: BuildRecord): string {
  const cell = (v: string, numeric = false): string => `<td${numeric ? ' class="n"' : ''}>${escapeXml(v)}</td>`;
  const rows = r.steps.map((s) =>
    [
      '<tr>',
      `<td><code>${escapeXml(s.name)}</code></td>`,
      cell(s.line === undefined ? '' : String(s.line), true),
      cell(s.cache === 'miss' ? (s.error !== undefined ? 'failed' : 'miss') : 'cached'),
      cell(s.cache === 'miss' ? humanMs(s.wallMs) : '', true),
      cell(s.cpuMs !== undefined ? humanMs(s.cpuMs) : '', true),
      cell(s.contextBytes !== undefined ? humanBytes(s.contextBytes) : '', true),
      cell(s.layer && !s.layer.pending ? humanBytes(s.layer.size) : '', true),
      cell(s.changes ? `${s.changes.added}/${s.changes.changed}/${s.changes.deleted}` : ''),
      `<td>${s.explain ? `<ul>${s.explain.map((c) => `<li>${escapeXml(c.text)}</li>`).join('')}</ul>` : ''}</td>`,
      '</tr>',
    ].join(''),
  );
  const head = ['step', 'line', 'cache', 'wall', 'cpu', 'context read', 'layer', 'added/changed/deleted', 'why it missed'].map((h) => `<th>${h}</th>`).join('');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}
