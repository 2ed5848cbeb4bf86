import path from 'node:path';
import type { Command } from '../command.js';
import { TsbuildError } from '../../errors/index.js';
import { openStateRoot } from '../../cache/index.js';
import { importRootfs, loadImageArchive, normalizeReference, readImage } from '../../oci/index.js';
import { humanBytes, table } from '../../util/format.js';


export const imageCommand: Command = {
  names: ['image'],
  summary: 'Manage local images: load, import, ls, rm',
  usage: 'tsbuild image load FILE [-t NAME] | tsbuild image import ROOTFS.tar NAME[:TAG] | tsbuild image ls | tsbuild image rm NAME...',
  options: [
    { name: 'tag', short: 't', type: 'string', value: 'NAME', description: 'Name for a loaded image (default: from the archive)' },{ name: 'root', type: 'string', value: 'DIR', description: 'State root (default: $TSBUILD_ROOT or the per-user default)' }],
  async handler(args, io) {
    const [sub, ...rest] = args.positionals;
    const state = await openStateRoot({ root: args.options.root as string | undefined, env: io.env });
    switch (sub) {
      case 'load': {
        if (rest.length !== 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'usage: tsbuild image load FILE [-t NAME]');
        const tag = args.options.tag as string | undefined;
        for (const r of await loadImageArchive(state.content, state.images, path.resolve(io.cwd, rest[0]!), tag ? { tag } : {})) io.stdout.write(`Loaded image: ${r.name}\n`);
        return 0;
      }
      case 'import': {
        if (rest.length !== 2) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'usage: tsbuild image import ROOTFS.tar NAME[:TAG]');
        const name = normalizeReference(rest[1]!);
        // SOURCE_DATE_EPOCH makes the imported image reproducible, as it does builds.
        const epoch = io.env.SOURCE_DATE_EPOCH;
        const created = epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : undefined;
        const r = await importRootfs(state.content, state.images, path.resolve(io.cwd, rest[0]!), name, created ? { created } : {});
        io.stdout.write(`${name} ${r.manifest.digest}\n`);
        return 0;
      }
      case 'ls':
      case 'list': {
        const rows = [['NAME', 'DIGEST', 'SIZE']];
        for (const rec of await state.images.list()) {
          const img = await readImage(state.content, rec.name, rec.digest).catch(() => undefined);
          const size = img ? img.manifest.layers.reduce((a, l) => a + l.size, img.manifest.config.size) : 0;
          rows.push([rec.name, rec.digest.slice(7, 19), img ? humanBytes(size) : '(missing blobs)']);
        }
        io.stdout.write(table(rows));
        return 0;
      }
      case 'rm':
      case 'remove': {
        if (rest.length === 0) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'usage: tsbuild image rm NAME...');
        for (const n of rest) {
          const name = normalizeReference(n);
          if (!(await state.images.delete(name))) throw new TsbuildError('ERR_TSBUILD_IMAGE_NOT_FOUND', `no such image: ${n}`);
          io.stdout.write(`Untagged: ${name}\n`);
        }
        return 0;
      }
      default:
        throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `unknown image subcommand "${sub ?? ''}"; expected load, import, ls or rm`);
    }
  },
};
