/**
 * Per-step sandbox overhead: the median wall time of `true` run through runSandbox (runc, a
 * busybox rootfs, network none), and of a bare `runc run` of the same bundle for comparison.
 *   npx tsx bench/sandbox.bench.ts [iterations]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nullProgress } from '../src/progress/index.js';
import { createSandboxSpec, runSandbox } from '../src/sandbox/index.js';
import { createBusyboxRootfs } from '../test/helpers/busybox-rootfs.js';

const n = Number(process.argv[2] ?? 30);
const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-bench-sbx-'));
try {
  const root = await createBusyboxRootfs(path.join(dir, 'root'));
  const spec = createSandboxSpec({ rootfs: { kind: 'dir', path: root }, args: ['/bin/true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' });
  const ctx = { signal: new AbortController().signal, progress: nullProgress };
  await runSandbox(ctx, spec); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = await runSandbox(ctx, spec);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)]!;
  console.log(`sandbox 'true': median ${med.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms over ${n} runs`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
