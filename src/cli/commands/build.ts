import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Command } from '../command.js';
import { TsbuildError } from '../../errors/index.js';
import { createProgressRenderer, type ProgressMode } from '../progress-mode.js';
import { parseBuildArgs } from '../build-args.js';
import { buildOptions as options } from './build-options.js';
import { upToDateInvocation } from '../up-to-date.js';


export const buildCommand: Command = {
  names: ['build', 'b'],
  summary: 'Build an image from a Dockerfile',
  usage: 'tsbuild build [OPTIONS] PATH',
  options,
  async handler(args, io) {
    const o = args.options;
    if (args.positionals.length > 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `"tsbuild build" requires exactly 1 argument, got ${args.positionals.length}`);
    const context = args.positionals[0] ?? '.';
    const mode = (o.quiet ? 'quiet' : ((o.progress as string | undefined) ?? 'auto')) as ProgressMode;
    const network = o.network as string | undefined;
    if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
      throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --network "${network}": expected default, none or host`);
    }
    const jobs = o.jobs === undefined ? undefined : Number(o.jobs);
    if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --jobs "${o.jobs}"`);
    const renderer = createProgressRenderer(mode, io.stderr);
    const upToDate = upToDateInvocation(args, io);
    // Heavy modules load only when a build actually runs.
    const { build } = await import('../../api.js');
    try {
      const result = await build(
        {
          context,
          // -f names a file from the working directory, as `docker build -f` does (not from PATH).
          file: o.file === undefined ? undefined : path.resolve(io.cwd, o.file as string),
          target: o.target as string | undefined,
          buildArgs: parseBuildArgs(o['build-arg'] as string[], io.env),
          tags: o.tag as string[],
          outputs: o.output as string[],
          cacheTo: o['cache-to'] as string[],
          cacheFrom: o['cache-from'] as string[],
          push: (o.push as boolean | undefined) ?? false,
          noCache: (o['no-cache'] as boolean | undefined) ?? false,
          explain: (o.explain as boolean | undefined) ?? false,
          noCacheFilter: o['no-cache-filter'] as string[],
          jobs,
          network: network as 'default' | 'none' | 'host' | undefined,
          secrets: (o.secret as string[]).map(parseSecret),
          root: o.root as string | undefined,
          platform: o.platform as string | undefined,
          insecureRegistries: o['insecure-registry'] as string[],
          allow: o.allow as string[],
          env: io.env,
          // What a later identical invocation checks before building (cli/up-to-date.ts).
          ...(upToDate ? { upToDate: { key: upToDate.key, tool: upToDate.tool } } : {}),
          // `-o type=oci,dest=-` streams the tarball here; progress always goes to stderr.
          stdout: io.stdout,
        },
        { signal: io.signal, progress: renderer },
      );
      renderer.close();
      const imageId = result.image.config.digest;
      if (o['metadata-file']) {
        const meta = {
          // Without an image exporter nothing was exported: no manifest digest (as BuildKit), the image ID still.
          ...(result.exported ? { 'containerimage.digest': result.image.manifest.digest } : {}),
          'containerimage.config.digest': imageId,
          ...(result.exported ? { 'containerimage.descriptor': result.image.manifest } : {}),
          ...(result.graph.target.name ? { 'tsbuild.target': result.graph.target.name } : {}),
          ...(result.record ? { 'tsbuild.build': { id: result.record.id, ...result.record.summary } } : {}),
          ...(result.cache.import || result.cache.export.length ? { 'tsbuild.cache': result.cache } : {}),
        };
        await writeFile(o['metadata-file'] as string, `${JSON.stringify(meta, null, 2)}\n`);
      }
      if (o.iidfile) await writeFile(o.iidfile as string, imageId);
      // With dest=- stdout holds the tarball: the image ID would corrupt it.
      const stdoutTaken = (o.output as string[]).some((spec) => spec === '-' || /(^|,)dest=-(,|$)/.test(spec));
      if (mode === 'quiet' && !stdoutTaken) io.stdout.write(`${imageId}\n`);
      return 0;
    } catch (err) {
      renderer.close();
      throw err;
    }
  },
};

function parseSecret(value: string): { id: string; src?: string; env?: string } {
  const fields = Object.fromEntries(
    value.split(',').map((kv) => {
      const eq = kv.indexOf('=');
      return eq === -1 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  ) as Record<string, string>;
  const id = fields.id;
  if (!id) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --secret "${value}": id= is required`);
  for (const k of Object.keys(fields)) {
    if (!['id', 'src', 'source', 'env', 'type'].includes(k)) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --secret "${value}": unknown key ${k}`);
  }
  const src = fields.src ?? fields.source;
  if (fields.env !== undefined) return { id, env: fields.env };
  if (src !== undefined) return { id, src };
  // Neither: api.ts uses an env var named like the id when set, else a file of that name.
  return { id };
}
