import type { Command } from '../command.js';
import { formatOption } from '../args.js';
import { TsbuildError } from '../../errors/index.js';
import { openStateRoot, parseByteSize, pruneStateRoot, type PruneOptions } from '../../cache/index.js';
import { humanBytes } from '../../util/format.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** 10m, 30s, 1h, 0 -> milliseconds. */
function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
}

export const pruneCommand: Command = {
  names: ['prune'],
  summary: 'Remove build cache (LRU, down to --keep-storage) and unreferenced blobs and layers',
  usage: 'tsbuild prune [--root DIR] [--keep-storage SIZE] [--all] [--force] [--grace DURATION]',
  options: [
    { name: 'root', type: 'string', value: 'DIR', description: 'State root (default: $TSBUILD_ROOT or the per-user default)' },
    { name: 'keep-storage', type: 'string', value: 'SIZE', description: 'Keep at most SIZE of build cache, least recently used dropped first (512MB, 2GiB)' },
    { name: 'all', short: 'a', type: 'boolean', description: 'Remove every cache record and cache mount' },
    { name: 'force', short: 'f', type: 'boolean', description: 'Do not ask for confirmation (tsbuild never asks; accepted for buildx compatibility)' },
    { name: 'grace', type: 'string', value: 'DURATION', description: 'Never delete data written or used more recently than this (default 10m; protects concurrent builds)' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default) or json' },
  ],
  async handler(args, io) {
    const format = formatOption(args.options.format, ['table', 'json']);
    const options: PruneOptions = {};
    const keep = args.options['keep-storage'] as string | undefined;
    if (keep !== undefined) {
      const n = parseByteSize(keep);
      if (n === undefined) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --keep-storage "${keep}": expected a size such as 512MB or 2GiB`);
      options.keepStorage = n;
    }
    if (args.options.all) options.all = true;
    const grace = args.options.grace as string | undefined;
    if (grace !== undefined) {
      const ms = parseDuration(grace);
      if (ms === undefined) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --grace "${grace}": expected a duration such as 10m or 0s`);
      options.graceMs = ms;
    }
    const state = await openStateRoot({ root: args.options.root as string | undefined, env: io.env });
    const r = await pruneStateRoot(state, options);
    if (format === 'json') {
      io.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    io.stdout.write(`Deleted ${r.records} cache records, ${r.mounts} cache mounts, ${r.blobs} blobs, ${r.layers} unpacked layers\n`);
    io.stdout.write(`Total reclaimed space: ${humanBytes(r.reclaimed)}\n`);
    if (!r.capHeld) io.stdout.write(`Build cache still holds ${humanBytes(r.remaining)}: the rest was used in the grace period (see --grace)\n`);
    return 0;
  },
};
