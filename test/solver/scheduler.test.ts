import test from 'ava';
import { createScheduler, type VertexRunner } from '../../src/solver/scheduler.js';
import type { Digest } from '../../src/util/digest.js';

const d = (n: string): Digest => `sha256:${n.padStart(64, '0')}`;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

/** A diamond: top <- (left, right) <- base; records execution order and overlap. */
function diamond(opts: { fail?: string; cached?: string[]; delay?: number } = {}) {
  const graph: Record<string, string[]> = { top: ['left', 'right'], left: ['base'], right: ['base'], base: [] };
  const executed: string[] = [];
  const intervals: Record<string, [number, number]> = {};
  const name = (v: Digest) => Object.keys(graph).find((k) => d(k) === v)!;
  const runner: VertexRunner<string> = {
    inputsOf: (v) => graph[name(v)]!.map(d),
    lookup: async (v) => (opts.cached?.includes(name(v)) ? `cached:${name(v)}` : undefined),
    async execute(v, inputs, signal) {
      const n = name(v);
      const start = Date.now();
      executed.push(n);
      await sleep(opts.delay ?? 20, signal);
      if (opts.fail === n) throw new Error(`boom in ${n}`);
      intervals[n] = [start, Date.now()];
      return `${n}(${inputs.join(',')})`;
    },
  };
  return { runner, executed, intervals };
}

test('solves a diamond once per vertex, inputs before consumers', async (t) => {
  const { runner, executed } = diamond();
  const s = createScheduler(runner, { jobs: 4, signal: new AbortController().signal });
  const result = await s.solve(d('top'));
  t.is(result, 'top(left(base()),right(base()))');
  t.is(executed.filter((n) => n === 'base').length, 1);
  t.is(executed[0], 'base');
  t.is(executed.at(-1), 'top');
});

test('independent vertices run concurrently up to the job limit', async (t) => {
  const { runner, intervals } = diamond({ delay: 150 });
  await createScheduler(runner, { jobs: 2, signal: new AbortController().signal }).solve(d('top'));
  const [l0, l1] = intervals.left!;
  const [r0, r1] = intervals.right!;
  t.true(l0 < r1 && r0 < l1, 'left and right overlap in time');
});

test('jobs=1 serialises execution', async (t) => {
  const { runner, intervals } = diamond({ delay: 60 });
  await createScheduler(runner, { jobs: 1, signal: new AbortController().signal }).solve(d('top'));
  const [l0, l1] = intervals.left!;
  const [r0, r1] = intervals.right!;
  t.true(l1 <= r0 || r1 <= l0, 'left and right do not overlap');
});

test('a cache hit short-circuits its inputs', async (t) => {
  const { runner, executed } = diamond({ cached: ['left'] });
  const result = await createScheduler(runner, { jobs: 2, signal: new AbortController().signal }).solve(d('top'));
  t.is(result, 'top(cached:left,right(base()))');
  t.deepEqual(executed.sort(), ['base', 'right', 'top']);
});

test('the first failure is reported and cancels the rest', async (t) => {
  const { runner, executed } = diamond({ fail: 'left', delay: 50 });
  const err = await t.throwsAsync(createScheduler(runner, { jobs: 2, signal: new AbortController().signal }).solve(d('top')));
  t.is(err?.message, 'boom in left');
  t.false(executed.includes('top'));
});

test('an external abort stops the walk', async (t) => {
  const { runner, executed } = diamond({ delay: 200 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('interrupted')), 50);
  await t.throwsAsync(createScheduler(runner, { jobs: 2, signal: ac.signal }).solve(d('top')));
  t.deepEqual(executed, ['base']);
});

test('eager: inputs execute while a lookup still waits (on its key); without eager they wait for it', async (t) => {
  for (const eager of [true, false]) {
    const { runner, executed } = diamond();
    // The top's lookup resolves (a miss) only once base has executed, or after 300 ms.
    const baseRan = new Promise<void>((resolve) => {
      const execute = runner.execute.bind(runner);
      runner.execute = async (v, inputs, signal) => {
        const r = await execute(v, inputs, signal);
        if (v === d('base')) resolve();
        return r;
      };
    });
    const lookup = runner.lookup.bind(runner);
    let topLookupSawBase = false;
    runner.lookup = async (v, signal) => {
      if (v === d('top')) {
        await Promise.race([baseRan, sleep(300)]);
        topLookupSawBase = executed.includes('base');
      }
      return lookup(v, signal);
    };
    const result = await createScheduler(runner, { jobs: 2, signal: new AbortController().signal, eager }).solve(d('top'));
    t.is(result, 'top(left(base()),right(base()))');
    t.is(topLookupSawBase, eager, `eager=${eager}`);
    t.deepEqual(executed.filter((n) => n === 'base'), ['base'], 'still once per vertex');
  }
});
