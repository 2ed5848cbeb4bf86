import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { TsbuildError } from '../../errors/index.js';
import { dumpAst, parseDockerfile } from '../../parser/index.js';

export const parseCommand: Command = {
  names: ['parse'],
  summary: 'Parse a Dockerfile and print its syntax tree',
  usage: 'tsbuild parse [--dump | --json] [FILE]   (FILE defaults to ./Dockerfile; - reads stdin)',
  options: [
    { name: 'dump', type: 'boolean', description: "Print BuildKit's S-expression dump (the conformance format)" },
    { name: 'json', type: 'boolean', description: 'Print the syntax tree as JSON (with source line ranges)' },
  ],
  async handler(args, io) {
    if (args.positionals.length > 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'parse takes one FILE');
    const arg = args.positionals[0] ?? 'Dockerfile';
    const file = arg === '-' ? '<stdin>' : arg;
    let bytes: Buffer;
    try {
      bytes = arg === '-' ? await readStdin() : await readFile(path.resolve(io.cwd, arg));
    } catch (cause) {
      throw new TsbuildError('ERR_TSBUILD_DOCKERFILE_NOT_FOUND', `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    }
    const ast = parseDockerfile(bytes, { file });
    if (args.options.json) io.stdout.write(`${JSON.stringify(ast, null, 2)}\n`);
    else io.stdout.write(`${dumpAst(ast)}\n`);
    return 0;
  },
};

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
