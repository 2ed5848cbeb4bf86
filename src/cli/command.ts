import type { OptionSpec, ParsedArgs } from './args.js';

/** What a command handler may touch: its parsed arguments and the process's streams. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * One CLI command (pnpm's command-module shape): names, help text, option specs and a handler
 * that returns the process exit code. Handlers throw TsbuildError; main.ts renders it.
 */
export interface Command {
  names: string[];
  summary: string;
  usage: string;
  options: OptionSpec[];
  handler(args: ParsedArgs, io: CommandIo): Promise<number>;
}
