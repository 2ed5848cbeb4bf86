import type { Command } from '../command.js';
import { formatOption } from '../args.js';
import { diskUsage, openStateRoot } from '../../cache/index.js';
import { ago, humanBytes, table } from '../../util/format.js';


export const duCommand: Command = {
  names: ['du'],
  summary: 'Show disk usage of the state root (build cache, blobs, layers, cache mounts)',
  usage: 'tsbuild du [--root DIR] [--verbose] [--format table|json]',
  options: [
    { name: 'root', type: 'string', value: 'DIR', description: 'State root (default: $TSBUILD_ROOT or the per-user default)' },
    { name: 'verbose', short: 'v', type: 'boolean', description: 'List every cache record' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default) or json' },
  ],
  async handler(args, io) {
    const format = formatOption(args.options.format, ['table', 'json']);
    const state = await openStateRoot({ root: args.options.root as string | undefined, env: io.env });
    const du = await diskUsage(state);
    if (format === 'json') {
      io.stdout.write(`${JSON.stringify(du, null, 2)}\n`);
      return 0;
    }
    const now = Date.now();
    if (args.options.verbose) {
      const rows = [['ID', 'RECLAIMABLE', 'SIZE', 'LAYERS', 'LAST ACCESSED']];
      for (const r of du.records) rows.push([r.key.replace(/^sha256:/, '').slice(0, 25), String(r.reclaimable), humanBytes(r.size), String(r.layers.length), ago(r.lastUsed.getTime(), now)]);
      io.stdout.write(`${table(rows)}\n`);
    }
    const g = (name: string, x: { count: number; bytes: number; reclaimable: number }) => [name, String(x.count), humanBytes(x.bytes), humanBytes(x.reclaimable)];
    io.stdout.write(
      table([
        ['TYPE', 'COUNT', 'SIZE', 'RECLAIMABLE'],
        g('Cache records', du.cacheRecords),
        g('Content blobs', du.blobs),
        g('Unpacked layers', du.layers),
        g('Cache mounts', du.cacheMounts),
      ]),
    );
    io.stdout.write(`\nBuild cache:\t${humanBytes(du.buildCache)}\nReclaimable:\t${humanBytes(du.reclaimable)}\nTotal:\t\t${humanBytes(du.total)}\n`);
    return 0;
  },
};
