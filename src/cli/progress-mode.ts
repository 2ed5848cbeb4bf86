import type { ProgressWriter } from '../progress/index.js';
import { createJsonRenderer, createPlainRenderer, createTtyRenderer } from '../progress/render/index.js';
import { TsbuildError } from '../errors/index.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'quiet';

/** Picks the renderer for --progress; `auto` means tty on a terminal, plain otherwise (as buildx). */
export function createProgressRenderer(mode: ProgressMode, out: NodeJS.WritableStream & { isTTY?: boolean }): ProgressWriter & { close(): void } {
  switch (mode) {
    case 'auto':
      return createProgressRenderer(out.isTTY ? 'tty' : 'plain', out);
    case 'tty':
      return createTtyRenderer(out);
    case 'plain':
      return { ...createPlainRenderer(out), close() {} };
    case 'rawjson':
      return { ...createJsonRenderer(out), close() {} };
    case 'quiet':
      return { emit() {}, close() {} };
    default:
      throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `invalid --progress "${String(mode)}": expected auto, tty, plain, rawjson or quiet`);
  }
}
