import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { TsbuildError } from '../../errors/index.js';
import { dumpAst, parseDockerfile } from '../../parser/index.js';

export const parseCommand: Command = {
  names: ['parse'],
  summary: 'Parse a Dockerfile and print its syntax tree',
  usage: 'tsbuild parse [--dump | --json] [FILE]   (FILE, or -, defaults to ./Dockerfile)',
  options: [
    { name: 'dump', type: 'boolean', description: "Print BuildKit's S-expression dump (the conformance format)" },
    { name: 'json', type: 'boolean', description: 'Print the syntax tree as JSON (with source line ranges)' },
  ],
  async handler(args, io) {
    if (args.positionals.length > 1) throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', 'parse takes one FILE');
    // `-` means the default file, like an omitted FILE (as specified for this command).
    const given = args.positionals[0];
    const file = given === undefined || given === '-' ? 'Dockerfile' : given;
    let bytes: Buffer;
    try {
      // Bytes, not a string: invalid UTF-8 must reach the parser so the dump can print it as \xNN.
      bytes = await readFile(path.resolve(io.cwd, file));
    } catch (cause) {
      throw new TsbuildError('ERR_TSBUILD_DOCKERFILE_NOT_FOUND', `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    }
    const ast = parseDockerfile(bytes, { file });
    if (args.options.json) io.stdout.write(`${JSON.stringify(ast, null, 2)}\n`);
    else io.stdout.write(`${dumpAst(ast)}\n`);
    return 0;
  },
};
