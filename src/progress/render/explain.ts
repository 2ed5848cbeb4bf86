import type { ProgressEvent } from '../events.js';

/** `CACHE MISS [stage 3/4] RUN make` and one `  - cause` line per cause (--explain). */
export function formatExplanation(e: Extract<ProgressEvent, { type: 'vertex.explain' }>): string {
  return `CACHE MISS ${e.name}\n${e.causes.map((c) => `  - ${c.text}\n`).join('')}`;
}
