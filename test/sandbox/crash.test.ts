/**
 * A tsbuild SIGKILLed in the middle of a RUN cannot clean up after itself; the next run's
 * cleanupStaleContainers must leave the mount table, the process table and the temp dir as before the crash.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanupStaleContainers } from '../../src/sandbox/index.js';
import { createBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { mountsMatching } from '../helpers/mounts.js';

for (const runtime of ['sandbox-exec', 'runc'] as const)
test(`after a SIGKILLed tsbuild, cleanup removes its step, processes and overlay mount [${runtime}]`, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const lower = await createBusyboxRootfs(path.join(dir, 'lower'));
  await mkdir(path.join(dir, 'upper'));
  await mkdir(path.join(dir, 'work'));
  const ours = () => mountsMatching(dir);
  const mountsBefore = ours();
  const token = `sleep 9${process.pid % 1000}${runtime === 'runc' ? 7 : 8}`;
  const script = path.join(dir, 'step.mts');
  await writeFile(
    script,
    `import { createSandboxSpec, runSandbox } from ${JSON.stringify(path.resolve('src/sandbox/index.ts'))};
import { nullProgress } from ${JSON.stringify(path.resolve('src/progress/index.ts'))};
const spec = createSandboxSpec({ rootfs: { kind: 'overlay', lower: [${JSON.stringify(lower)}], upper: ${JSON.stringify(path.join(dir, 'upper'))}, work: ${JSON.stringify(path.join(dir, 'work'))} }, args: ['/bin/sh', '-c', ${JSON.stringify(`${token} & ${token}`)}], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: 'none' });
await runSandbox({ signal: new AbortController().signal, progress: nullProgress }, spec, {}, { runtime: ${JSON.stringify(runtime === 'runc' ? 'runc' : 'auto')} });
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'ignore' });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const running = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(token);
  for (let i = 0; i < 300 && !running() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(running(), 'the step started');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  // The crash leaves the step running and its overlay mounted: that is what cleanup is for. Every
  // build cleans up stale containers when it starts, so a build of another test file running in
  // parallel may get there first (seen in CI): whoever does, nothing of the step may be left.
  const leftBehind = running();
  t.log(leftBehind ? 'the step outlived the killed tsbuild' : 'a parallel build had already cleaned up');
  const removed = await cleanupStaleContainers();
  if (leftBehind) t.log(`this cleanup removed ${removed} container(s)`);
  for (let i = 0; i < 50 && running(); i++) await new Promise((r) => setTimeout(r, 100));
  t.false(running(), 'no process of the step is left');
  t.deepEqual(ours(), mountsBefore);
  // Nor its bundle dir (its root was mounted in the container's namespace, not on the host).
  t.deepEqual(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`tsbuild-run-${child.pid}-`)), []);
});
