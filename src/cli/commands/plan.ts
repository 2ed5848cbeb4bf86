import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { formatOption } from '../args.js';
import { TsbuildError } from '../../errors/index.js';
import { readDockerignore } from '../../context/index.js';
import { parseDockerfile } from '../../parser/index.js';
import { planBuild, renderDot, renderMermaid } from '../../plan/index.js';
import { parseBuildArgs } from '../build-args.js';

export const planCommand: Command = {
  names: ['plan'],
  summary: 'Plan a build and print its graph of layer steps (json, dot or mermaid)',
  usage: 'tsbuild plan [OPTIONS] [PATH]',
  options: [
    { name: 'file', short: 'f', type: 'string', value: 'PATH', description: 'Name of the Dockerfile (default: PATH/Dockerfile)' },
    { name: 'target', type: 'string', value: 'STAGE', description: 'Set the target build stage' },
    { name: 'build-arg', type: 'list', value: 'KEY=VALUE', description: 'Set build-time variables' },
    { name: 'platform', type: 'string', value: 'OS/ARCH', description: 'Target platform (default linux/amd64)' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'Output format: json (default), dot or mermaid' },
  ],
  async handler(args, io) {
    const o = args.options;
    const format = formatOption(o.format, ['json', 'dot', 'mermaid']);
    const context = path.resolve(io.cwd, args.positionals[0] ?? '.');
    const dockerfile = o.file === undefined ? path.resolve(context, 'Dockerfile') : path.resolve(io.cwd, o.file as string);
    let text: Buffer;
    try {
      text = await readFile(dockerfile);
    } catch (cause) {
      throw new TsbuildError('ERR_TSBUILD_DOCKERFILE_NOT_FOUND', `cannot read ${path.relative(io.cwd, dockerfile) || dockerfile}`, { cause });
    }
    const ast = parseDockerfile(text, { file: path.relative(io.cwd, dockerfile) || dockerfile });
    const { patterns } = await readDockerignore(context, dockerfile);
    let platform;
    if (o.platform) {
      const [os, architecture, variant] = (o.platform as string).split('/');
      if (!os || !architecture) throw new TsbuildError('ERR_TSBUILD_PLATFORM', `invalid platform "${o.platform as string}"`);
      platform = variant ? { os, architecture, variant } : { os, architecture };
    }
    const graph = await planBuild({
      ast,
      ...(o.target !== undefined ? { target: o.target as string } : {}),
      buildArgs: parseBuildArgs(o['build-arg'] as string[], io.env),
      ...(platform ? { platform } : {}),
      dockerignore: patterns,
    });
    for (const w of graph.warnings) io.stderr.write(`WARNING: ${w.rule}: ${w.message} (${w.file}:${w.line})\n`);
    for (const a of graph.unusedBuildArgs) io.stderr.write(`WARNING: build-arg ${a} was not consumed by any ARG\n`);
    io.stdout.write(format === 'dot' ? renderDot(graph) : format === 'mermaid' ? renderMermaid(graph) : `${JSON.stringify(graph, null, 2)}\n`);
    return 0;
  },
};
