import type { ProgressEvent, ProgressWriter } from '../events.js';

/** One JSON object per line per event (`--progress=rawjson`), for machines. */
export function createJsonRenderer(out: NodeJS.WritableStream): ProgressWriter {
  return { emit: (e: ProgressEvent) => void out.write(`${JSON.stringify(e)}\n`) };
}
