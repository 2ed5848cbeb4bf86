import type { ProgressEvent, ProgressWriter } from '../events.js';
import { formatExplanation } from './explain.js';

interface Row {
  name: string;
  state: 'running' | 'done' | 'cached' | 'error';
  start: number;
  end?: number;
  tail: string[];
}

const TAIL_LINES = 6;

/**
 * A live display like BuildKit's tty mode: one line per step with its timing, CACHED/DONE/ERROR
 * markers, and the last lines of output under each running step. Redraws in place with ANSI
 * cursor movement at most every 100 ms.
 */
export function createTtyRenderer(out: NodeJS.WritableStream & { columns?: number }): ProgressWriter & { close(): void } {
  const rows = new Map<string, Row>();
  const order: string[] = [];
  let drawnLines = 0;
  let timer: NodeJS.Timeout | undefined;
  const began = Date.now();
  const warnings: string[] = [];
  const explanations: string[] = [];

  const fmt = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
  const draw = (final = false): void => {
    const width = Math.max(40, (out.columns ?? 100) - 1);
    const lines: string[] = [`[+] Building ${fmt(Date.now() - began)} (${[...rows.values()].filter((r) => r.state !== 'running').length}/${rows.size})${final ? ' FINISHED' : ''}`];
    for (const id of order) {
      const r = rows.get(id)!;
      const took = r.state === 'cached' ? 'CACHED' : r.state === 'error' ? 'ERROR' : fmt((r.end ?? Date.now()) - r.start);
      const label = ` => ${r.name}`;
      lines.push(`${label.slice(0, width - took.length - 1).padEnd(width - took.length)}${took}`);
      if (r.state === 'running' || r.state === 'error') for (const t of r.tail) lines.push(` => => ${t}`.slice(0, width));
    }
    let s = drawnLines > 0 ? `\x1b[${drawnLines}A` : '';
    s += lines.map((l) => `\x1b[2K${l}\n`).join('');
    out.write(s);
    drawnLines = lines.length;
  };
  const schedule = (): void => {
    timer ??= setTimeout(() => {
      timer = undefined;
      draw();
    }, 100);
  };
  const add = (id: string, row: Row): void => {
    if (!rows.has(id)) order.push(id);
    rows.set(id, row);
  };
  return {
    emit(e: ProgressEvent) {
      switch (e.type) {
        case 'vertex.start':
          add(e.vertex, { name: e.name, state: 'running', start: e.time, tail: [] });
          break;
        case 'vertex.cached':
          add(e.vertex, { name: e.name, state: 'cached', start: e.time, end: e.time, tail: [] });
          break;
        case 'vertex.log': {
          const r = rows.get(e.vertex);
          if (r) {
            const lines = e.data.split('\n').filter((l) => l !== '');
            r.tail.push(...lines);
            r.tail.splice(0, Math.max(0, r.tail.length - TAIL_LINES));
          }
          break;
        }
        case 'vertex.end': {
          const r = rows.get(e.vertex);
          if (r) {
            r.state = e.ok ? 'done' : 'error';
            r.end = e.time;
          }
          break;
        }
        case 'vertex.explain':
          explanations.push(formatExplanation(e));
          break;
        case 'warning':
          warnings.push(`WARNING: ${e.rule}: ${e.message}${e.file ? ` (${e.file}${e.line ? `:${e.line}` : ''})` : ''}`);
          break;
        default:
          break;
      }
      schedule();
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      draw(true);
      for (const w of warnings) out.write(`${w}\n`);
      for (const x of explanations) out.write(x);
    },
  };
}
