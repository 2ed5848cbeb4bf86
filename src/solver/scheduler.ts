/**
 * The scheduler: a depth-first walk of the build graph with in-flight deduplication and a
 * p-limit bound on how many ops *execute* at once. Waiting for inputs never holds a slot, so a
 * deep chain cannot starve a wide one and the walk cannot deadlock.
 *
 * The first failure aborts the shared signal (fail fast): every other running op sees the
 * abort and stops; the first error is the one reported.
 */
import pLimit from 'p-limit';
import type { Digest } from '../util/digest.js';

export interface SchedulerOptions {
  /** Maximum number of ops executing at the same time. */
  jobs: number;
  /** External cancellation (SIGINT). */
  signal: AbortSignal;
  /**
   * No lookup can hit (a fresh state root, --no-cache): inputs are solved at once instead of after
   * the vertex's lookup, which waits for its cache key and so for the content checksums below it.
   * A cold build then runs its first steps while the context is still being hashed.
   */
  eager?: boolean;
}

/**
 * How one vertex is resolved. `plan` runs without a slot and decides whether the vertex needs
 * its inputs (a cache miss) or not (a cache hit); `execute` runs inside a slot.
 */
export interface VertexRunner<R> {
  /** Inputs of a vertex, in order. */
  inputsOf(vertex: Digest): Digest[];
  /**
   * Called once per vertex before its inputs are solved. Returning a value short-circuits:
   * the vertex is resolved with it and its inputs are never solved (cache hit).
   */
  lookup(vertex: Digest, signal: AbortSignal): Promise<R | undefined>;
  /** Produces the vertex result from its inputs' results (cache miss). Runs inside a slot. */
  execute(vertex: Digest, inputs: R[], signal: AbortSignal): Promise<R>;
}

export interface Scheduler<R> {
  solve(target: Digest): Promise<R>;
}

export function createScheduler<R>(runner: VertexRunner<R>, options: SchedulerOptions): Scheduler<R> {
  const limit = pLimit(Math.max(1, options.jobs));
  const inflight = new Map<Digest, Promise<R>>();
  const failFast = new AbortController();
  const signal = AbortSignal.any([options.signal, failFast.signal]);
  let firstError: unknown;

  const fail = (err: unknown): never => {
    if (firstError === undefined) {
      firstError = err;
      failFast.abort(err);
    }
    throw err;
  };

  const resolve = async (vertex: Digest): Promise<R> => {
    signal.throwIfAborted();
    const early = options.eager ? Promise.all(runner.inputsOf(vertex).map(solveOne)) : undefined;
    // An eager walk's inputs may fail while the lookup is pending: fail() has recorded it.
    early?.catch(() => {});
    const cached = await runner.lookup(vertex, signal);
    if (cached !== undefined) return cached;
    const inputs = await (early ?? Promise.all(runner.inputsOf(vertex).map(solveOne)));
    return limit(() => {
      signal.throwIfAborted();
      return runner.execute(vertex, inputs, signal);
    });
  };

  const solveOne = (vertex: Digest): Promise<R> => {
    let p = inflight.get(vertex);
    if (!p) {
      p = resolve(vertex).catch(fail);
      inflight.set(vertex, p);
    }
    return p;
  };

  return {
    async solve(target) {
      try {
        return await solveOne(target);
      } catch (err) {
        // Report the root cause, not the AbortErrors it caused in sibling ops.
        throw firstError ?? err;
      }
    },
  };
}
