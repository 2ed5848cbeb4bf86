import { DockerfileError, StepError, isTsbuildError } from '../errors/index.js';

/**
 * Turns any thrown value into the text the user sees and an exit status. Dockerfile errors read
 * `FILE:LINE:COL: message` then the offending line; stacks and causes only with --debug.
 */
export function renderError(err: unknown, debug: boolean): { text: string; exitCode: number } {
  const lines: string[] = [];
  if (err instanceof DockerfileError) {
    const loc = err.location;
    lines.push(`${loc.file}:${loc.startLine}${loc.column !== undefined ? `:${loc.column}` : ''}: ${err.message}`);
    if (err.source !== undefined && err.source !== '') {
      lines.push(`  ${loc.startLine} | ${err.source.split('\n')[0]}`);
    }
  } else if (err instanceof StepError) {
    const where = err.location ? `${err.location.file}:${err.location.startLine}: ` : '';
    lines.push(`tsbuild: ${where}${err.message}`);
    if (err.outputTail && err.outputTail.length > 0) {
      lines.push('  last output:', ...err.outputTail.map((l) => `    ${l}`));
    }
  } else if (isTsbuildError(err)) {
    lines.push(`tsbuild: ${err.message}`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    lines.push(`tsbuild: internal error: ${message}`);
  }
  if (isTsbuildError(err)) {
    if (debug) lines.push(`  code: ${err.code}`);
    if (err.hint) lines.push(`  hint: ${err.hint}`);
  }
  if (debug) {
    let cause: unknown = err;
    while (cause instanceof Error) {
      if (cause.stack) lines.push(cause.stack);
      cause = cause.cause;
    }
  }
  return { text: lines.join('\n') + '\n', exitCode: 1 };
}
