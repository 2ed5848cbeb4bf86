import type { Command } from '../command.js';
import { formatOption } from '../args.js';
import { TsbuildError } from '../../errors/index.js';
import { resolveStateRootDir } from '../../cache/index.js';
import { formatBuildRecord, formatHistoryList, readBuildRecord, readBuildRecords, renderBuildHtml, renderBuildSvg } from '../../history/index.js';

const LIST_FORMATS = ['table', 'json'] as const;
const SHOW_FORMATS = ['table', 'json', 'svg', 'html'] as const;

/**
 * `tsbuild history` lists recorded builds; `tsbuild history show ID` prints one (table, json,
 * or a timeline as svg/html). Read-only: it never takes the state-root lock.
 */
export const historyCommand: Command = {
  names: ['history'],
  summary: 'List recorded builds, or show one build step by step (history show ID)',
  usage: 'tsbuild history [--format table|json] [-n N] | tsbuild history show ID|latest [--format table|json|svg|html] [--explain]',
  options: [
    { name: 'root', type: 'string', value: 'DIR', description: 'State root (default: $TSBUILD_ROOT or the per-user default)' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default), json; for show also svg and html (a timeline)' },
    { name: 'explain', type: 'boolean', description: 'show: print why each step missed the cache' },
    { name: 'limit', short: 'n', type: 'string', value: 'N', description: 'List at most N builds (default 20)' },
  ],
  async handler(args, io) {
    const o = args.options;
    const root = resolveStateRootDir({ root: o.root as string | undefined, env: io.env });
    const [sub, id, ...extra] = args.positionals;
    if (sub === undefined || sub === 'ls' || sub === 'list') {
      const format = formatOption(o.format, LIST_FORMATS);
      const limit = o.limit === undefined ? 20 : Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --limit "${String(o.limit)}"`);
      const records = await readBuildRecords(root, { limit });
      if (format === 'json') io.stdout.write(`${JSON.stringify(records.map(({ steps: _steps, ...r }) => r), null, 2)}\n`);
      else io.stdout.write(formatHistoryList(records, { now: Date.now(), cwd: io.cwd }));
      return 0;
    }
    if (sub !== 'show') throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `unknown history command "${sub}": expected show`);
    if (id === undefined || extra.length > 0) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', '"tsbuild history show" requires exactly 1 argument: a build id');
    const format = formatOption(o.format, SHOW_FORMATS);
    const record = id === 'latest' ? (await readBuildRecords(root, { limit: 1 }))[0] : await readBuildRecord(root, id);
    if (!record) throw new TsbuildError('ERR_TSBUILD_HISTORY_NOT_FOUND', `no recorded build matches "${id}"`);
    switch (format) {
      case 'json':
        io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
        break;
      case 'svg':
        io.stdout.write(renderBuildSvg(record));
        break;
      case 'html':
        io.stdout.write(renderBuildHtml(record));
        break;
      default:
        io.stdout.write(formatBuildRecord(record, { cwd: io.cwd, explain: (o.explain as boolean | undefined) ?? false }));
    }
    return 0;
  },
};
