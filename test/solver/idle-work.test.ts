import test from 'ava';
import { createIdleWork } from '../../src/solver/idle-work.js';

test('queued work waits for idle(), the delay or flush(); a failed job rejects only its own promise', async (t) => {
  const ran: string[] = [];
  const work = createIdleWork({ delayMs: 10_000 });
  const a = work.add(async () => void ran.push('a'));
  const b = work.add(async () => {
    ran.push('b');
    throw new Error('b failed');
  });
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(ran, [], 'nothing runs before the thread is idle');
  work.idle();
  await a;
  await t.throwsAsync(b, { message: 'b failed' });
  t.deepEqual(ran, ['a', 'b']);

  const c = work.add(async () => void ran.push('c'));
  await work.flush();
  t.deepEqual(ran, ['a', 'b', 'c'], 'flush starts and waits for what is queued');
  await c;

  const soon = createIdleWork({ delayMs: 5 });
  const d = soon.add(async () => 'd');
  // Its timer does not keep a process up (flush() is what waits): this one does, meanwhile.
  const alive = setTimeout(() => {}, 5_000);
  t.is(await d, 'd', 'the delay starts it without idle()');
  clearTimeout(alive);
});
