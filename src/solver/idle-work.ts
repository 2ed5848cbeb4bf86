/**
 * Work the build needs done but not now: measuring a committed layer for the build record. It
 * is synchronous file-system work on the one JavaScript thread (a 2,000-file layer's walk is
 * ~15 ms), so run at commit it holds up the next step, and sliced it drags out the next step's
 * start instead. It runs best while that thread has nothing else to do: when a sandbox has
 * started and the build waits for its process. The end of the solve starts what is left, and a
 * quarter second is the limit for anything queued: a much shorter timer fired in the middle of
 * a busy step (the context summary queued at a 2,000-file COPY's checksum ran inside that COPY).
 */
export interface IdleWork {
  /** Queues `job`; the promise settles with it (a failed job only rejects its own promise). */
  add<T>(job: () => Promise<T>): Promise<T>;
  /** Starts everything queued: the thread is about to wait (a sandbox process started). */
  idle(): void;
  /** Starts everything queued and waits for all of it. */
  flush(): Promise<void>;
}

export function createIdleWork(options: { delayMs?: number } = {}): IdleWork {
  const delayMs = options.delayMs ?? 250;
  const queued: Array<() => void> = [];
  const started: Array<Promise<unknown>> = [];
  let timer: NodeJS.Timeout | undefined;
  const idle = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const start of queued.splice(0)) start();
  };
  return {
    add(job) {
      return new Promise((resolve, reject) => {
        queued.push(() => {
          const p = job();
          started.push(p.catch(() => {}));
          p.then(resolve, reject);
        });
        if (!timer) {
          timer = setTimeout(idle, delayMs);
          // Never the reason the process stays up: flush() is what waits.
          timer.unref();
        }
      });
    },
    idle,
    async flush() {
      idle();
      await Promise.all(started);
    },
  };
}
