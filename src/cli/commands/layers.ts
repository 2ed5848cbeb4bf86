import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { formatOption } from '../args.js';
import { TsbuildError } from '../../errors/index.js';
import { openStateRoot } from '../../cache/index.js';
import { analyzeImageLayers, imageFromArchive, imageFromStore, type LayersReport } from '../../insight/index.js';
import { columnWidths, humanBytes } from '../../util/format.js';

const JSON_SCHEMA = `JSON (--format json, schemaVersion 1):
  { schemaVersion, config (image ID), platform, totalBytes, wastedBytes, efficiency,
    layers: [{ index, digest, diffId, mediaType, createdBy, compressedSize, uncompressedSize,
               files, fileBytes, deletions, wastedBytes, removedBytes, largest: [{path, size}] }],
    wasted: [{ path, size, layer, by, reason: "deleted"|"overwritten" }] }
  Sizes are bytes. wastedBytes of a layer: its files that later layers delete or overwrite;
  removedBytes: earlier layers' files it deletes or overwrites. efficiency = (total - wasted) / total.`;

function oneLine(s: string | null, width: number): string {
  const t = (s ?? '').replace(/\s+/g, ' ').replace(/^\/bin\/sh -c (#\(nop\) )?/, '');
  return t.length > width ? `${t.slice(0, width - 1)}…` : t;
}

export function renderLayersTable(r: LayersReport): string {
  const rows = [['#', 'SIZE', 'COMPRESSED', 'FILES', 'WASTED', 'CREATED BY']];
  for (const l of r.layers) rows.push([String(l.index), humanBytes(l.uncompressedSize), humanBytes(l.compressedSize), String(l.files), humanBytes(l.wastedBytes), oneLine(l.createdBy, 60)]);
  const w = columnWidths(rows, 2);
  let out = `Image ${r.config} (${r.platform}), ${r.layers.length} layers\n\n`;
  rows.forEach((row, i) => {
    out += `${row.map((c, j) => c.padEnd(w[j]!)).join('').trimEnd()}\n`;
    const l = r.layers[i - 1];
    if (l && l.largest.length > 0) out += `${' '.repeat(w[0]!)}largest: ${l.largest.map((f) => `${f.path} ${humanBytes(f.size)}`).join(', ')}\n`;
  });
  out += `\nFile content: ${humanBytes(r.totalBytes)}  Wasted: ${humanBytes(r.wastedBytes)}  Efficiency: ${(r.efficiency * 100).toFixed(2)}%\n`;
  if (r.wasted.length > 0) {
    out += '\nWasted (deleted or overwritten by a later layer):\n';
    for (const h of r.wasted) out += `  ${humanBytes(h.size).padStart(8)}  ${h.path}  (layer ${h.layer}, ${h.reason} by layer ${h.by})\n`;
  }
  return out;
}

export const layersCommand: Command = {
  names: ['layers'],
  summary: 'Show what each layer of an image holds and the bytes later layers waste',
  usage: `tsbuild layers [OPTIONS] IMAGE|FILE

IMAGE is a name in the local image store; FILE is an OCI layout tarball (-o type=oci) or a
docker-save tarball (-o type=docker, docker save). Layers are streamed, never unpacked.

${JSON_SCHEMA}`,
  options: [
    { name: 'top', type: 'string', value: 'N', description: 'Largest files per layer and wasted files to list (default 5)' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default) or json' },
    { name: 'root', type: 'string', value: 'DIR', description: 'State root (default: $TSBUILD_ROOT or the per-user default)' },
  ],
  async handler(args, io) {
    const format = formatOption(args.options.format, ['table', 'json']);
    const topText = (args.options.top as string | undefined) ?? '5';
    if (!/^\d+$/.test(topText)) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `--top takes a number, got "${topText}"`);
    const target = args.positionals[0];
    if (!target || args.positionals.length > 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'tsbuild layers takes exactly one IMAGE or FILE');
    const file = path.resolve(io.cwd, target);
    const isFile = (await stat(file).catch(() => undefined))?.isFile() ?? false;
    let image;
    if (isFile) image = await imageFromArchive(file);
    else {
      const state = await openStateRoot({ root: args.options.root as string | undefined, env: io.env });
      image = await imageFromStore(state.content, state.images, target);
    }
    const report = await analyzeImageLayers(image, { top: Number(topText) });
    io.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderLayersTable(report));
    return 0;
  },
};
