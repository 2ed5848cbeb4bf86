import { formatOptions, parseArgs } from './args.js';
import type { CommandIo } from './command.js';
import { COMMANDS, findCommand } from './commands/index.js';
import { renderError } from './error-handler.js';
import { resolveStateRootDir } from '../cache/index.js';
import { TsbuildError } from '../errors/index.js';
import { ROOTLESS_ENV, startRootlessChild, type RootlessChild } from '../sandbox/index.js';

const VERSION = '0.1.0';

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.names[0]!.length)) + 2;
  return [
    'Usage: tsbuild [COMMAND] [OPTIONS] [PATH]',
    '',
    'A daemonless container image builder: reads a Dockerfile and builds an OCI image.',
    '`tsbuild PATH` is short for `tsbuild build PATH`.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.names[0]!.padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    '  -h, --help     Show help (also `tsbuild COMMAND --help`)',
    '  -v, --version  Print the version',
    '      --debug    Show error causes and stack traces',
    '',
  ].join('\n');
}

/**
 * The process entry point: the only place that reads argv, writes to stdout/stderr and sets
 * the exit status. Everything below it throws TsbuildError and returns data.
 */
export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  const original = argv;
  argv = argv.filter((a) => a !== '--debug');
  const controller = new AbortController();
  let interrupts = 0;
  let rootless: RootlessChild | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    // Rootless: the child in the user namespace does the work and its own cleanup.
    if (rootless) return rootless.kill(sig);
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: controller.signal };

  try {
    const first = argv[0];
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      process.stdout.write(topHelp());
      process.exitCode = 0;
      return;
    }
    if (first === '-v' || first === '--version' || first === 'version') {
      process.stdout.write(`tsbuild ${VERSION}\n`);
      return;
    }
    let entry = findCommand(first);
    let rest = argv.slice(1);
    if (!entry) {
      entry = findCommand('build');
      rest = argv;
      if (!entry) throw new Error(`unknown command "${first}"`);
    }
    // Not root: re-execute in a user namespace where we are uid 0 (BuildKit's rootlesskit model),
    // keeping the per-user state root that the un-namespaced uid would use. Every command goes
    // there (files owned by subordinate ids can be removed only from inside); only `build`
    // cannot do without it when user namespaces are disabled.
    if (process.getuid?.() !== 0 && process.env[ROOTLESS_ENV] !== '1') {
      const env = { ...process.env, TSBUILD_ROOT: resolveStateRootDir({ env: process.env }) };
      try {
        rootless = await startRootlessChild({ command: [process.execPath, ...process.execArgv, process.argv[1]!, ...original], env });
      } catch (err) {
        if (entry.names[0] === 'build' || !(err instanceof TsbuildError) || err.code !== 'ERR_TSBUILD_SANDBOX_UNAVAILABLE') throw err;
      }
      if (rootless) {
        process.exitCode = await rootless.wait();
        return;
      }
    }
    const command = await entry.load();
    if (rest.includes('-h') || rest.includes('--help')) {
      process.stdout.write(`Usage: ${command.usage}\n\n${command.summary}\n\nOptions:\n${formatOptions(command.options)}\n`);
      return;
    }
    const args = parseArgs(rest, command.options);
    process.exitCode = await command.handler(args, io);
  } catch (err) {
    const { text, exitCode } = renderError(err, debug);
    process.stderr.write(text);
    process.exitCode = controller.signal.aborted ? 130 : exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
