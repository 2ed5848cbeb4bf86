/**
 * Progress is data: the core emits these typed events and renderers at the edge (cli/) turn
 * them into a tty display, plain lines or JSON. Times are epoch milliseconds.
 */
export type ProgressEvent =
  | { type: 'build.start'; time: number; target: string; vertices: number }
  | { type: 'build.end'; time: number; ok: boolean; error?: string }
  | { type: 'vertex.start'; time: number; vertex: string; name: string; stage?: string }
  | { type: 'vertex.cached'; time: number; vertex: string; name: string; stage?: string }
  | { type: 'vertex.end'; time: number; vertex: string; ok: boolean; error?: string; cpuMs?: number }
  | { type: 'vertex.log'; time: number; vertex: string; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'vertex.progress'; time: number; vertex: string; id: string; current: number; total?: number; label?: string }
  | { type: 'vertex.explain'; time: number; vertex: string; name: string; causes: Array<{ kind: string; text: string }> }
  | { type: 'warning'; time: number; rule: string; message: string; file?: string; line?: number }
  | { type: 'info'; time: number; message: string };

export type ProgressEventType = ProgressEvent['type'];

type Timeless<E> = E extends unknown ? Omit<E, 'time'> : never;
/** An event without its time: one kept to be shown again (uptodate/), stamped by `stamp`. */
export type TimelessEvent = Timeless<ProgressEvent>;

/** The event with the time now, placed where emitted events have it (JSON output keeps the order). */
export function stamp({ type, ...rest }: TimelessEvent): ProgressEvent {
  return { type, time: Date.now(), ...rest } as ProgressEvent;
}

/** Where core code sends events. Implementations must never throw. */
export interface ProgressWriter {
  emit(event: ProgressEvent): void;
}

/** A writer that drops everything (for library use without progress). */
export const nullProgress: ProgressWriter = { emit() {} };

/** A writer that keeps events in memory (tests, build records). */
export function createRecordingProgress(): ProgressWriter & { events: ProgressEvent[] } {
  const events: ProgressEvent[] = [];
  return { events, emit: (e) => void events.push(e) };
}

/** Fans events out to several writers. */
export function teeProgress(...writers: ProgressWriter[]): ProgressWriter {
  return { emit: (e) => writers.forEach((w) => w.emit(e)) };
}

/**
 * Passed as the first argument of long operations (Go's ctx): cancellation and progress travel
 * explicitly, never through globals.
 */
export interface BuildContext {
  signal: AbortSignal;
  progress: ProgressWriter;
}
