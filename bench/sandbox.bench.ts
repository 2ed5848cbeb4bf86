/**
 * Per-step sandbox overhead: the median wall time of `true` run through runSandbox (a busybox
 * rootfs, network none) with the default runtime (tsbuild-sandbox-exec where it applies) and
 * with runc, alternately.
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
  // Each runtime alternately, so both see the machine in the same state.
  const times: Record<'auto' | 'runc', number[]> = { auto: [], runc: [] };
  let fast = '';
  for (const runtime of ['auto', 'runc'] as const) await runSandbox(ctx, spec, {}, { runtime }); // warm-up
  for (let i = 0; i < n; i++) {
    for (const runtime of ['auto', 'runc'] as const) {
      const t0 = process.hrtime.bigint();
      const r = await runSandbox(ctx, spec, {}, { runtime });
      times[runtime].push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode} under ${r.runtime}`);
      if (runtime === 'auto') fast = r.runtime;
    }
  }
  for (const runtime of ['auto', 'runc'] as const) {
    const sorted = times[runtime].sort((a, b) => a - b);
    const med = sorted[Math.floor(sorted.length / 2)]!;
    const name = runtime === 'auto' ? `default (${fast})` : 'runc';
    console.log(`sandbox 'true', ${name}: median ${med.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${n} runs`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
