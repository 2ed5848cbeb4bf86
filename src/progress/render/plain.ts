import type { ProgressEvent, ProgressWriter } from '../events.js';
import { formatExplanation } from './explain.js';

/**
 * Append-only step lines, like BuildKit's plain mode: `#N [stage 1/3] RUN make`, output lines
 * prefixed with the step number and elapsed time, then `#N DONE 1.2s` or `#N CACHED`.
 */
export function createPlainRenderer(out: NodeJS.WritableStream): ProgressWriter {
  const numbers = new Map<string, number>();
  const started = new Map<string, number>();
  const partial = new Map<string, string>();
  let next = 1;
  const num = (v: string): number => {
    let n = numbers.get(v);
    if (n === undefined) numbers.set(v, (n = next++));
    return n;
  };
  const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
  return {
    emit(e: ProgressEvent) {
      switch (e.type) {
        case 'vertex.cached':
          out.write(`#${num(e.vertex)} ${e.name}\n#${num(e.vertex)} CACHED\n\n`);
          break;
        case 'vertex.start':
          started.set(e.vertex, e.time);
          out.write(`#${num(e.vertex)} ${e.name}\n`);
          break;
        case 'vertex.log': {
          const n = num(e.vertex);
          const t = secs(e.time - (started.get(e.vertex) ?? e.time));
          const text = (partial.get(e.vertex) ?? '') + e.data;
          const lines = text.split('\n');
          partial.set(e.vertex, lines.pop() ?? '');
          for (const line of lines) out.write(`#${n} ${t} ${line}\n`);
          break;
        }
        case 'vertex.end': {
          const n = num(e.vertex);
          const rest = partial.get(e.vertex);
          if (rest) out.write(`#${n} ${rest}\n`);
          partial.delete(e.vertex);
          const took = secs(e.time - (started.get(e.vertex) ?? e.time));
          out.write(e.ok ? `#${n} DONE ${took}\n\n` : `#${n} ERROR: ${e.error ?? 'failed'}\n\n`);
          break;
        }
        case 'vertex.explain':
          out.write(formatExplanation(e));
          break;
        case 'warning':
          out.write(`WARNING: ${e.rule}: ${e.message}${e.file ? ` (${e.file}${e.line ? `:${e.line}` : ''})` : ''}\n`);
          break;
        case 'info':
          out.write(`${e.message}\n`);
          break;
        default:
          break;
      }
    },
  };
}
