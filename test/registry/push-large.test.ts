/**
 * A 200 MB incompressible layer goes to a real registry and comes back in constant memory:
 * the CLI's peak RSS (its own getrusage, written at exit) stays far below the layer size, for
 * the build + push and for the pull into an empty state root. The push is chunked.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFaultProxy, startRegistry } from '../helpers/registry.js';
import { createHarness, repo, type Harness } from '../helpers/tsbuild.js';

const LAYER = 200 * 1024 * 1024;
// Preloaded into the CLI: records the process's peak RSS (kB) when it exits.
const RECORD_RSS = `--import=data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>writeFileSync(process.env.TSBUILD_TEST_RSS_FILE,String(process.resourceUsage().maxRSS)))`;

/** Runs the CLI (asynchronously: the proxy lives in this process) and returns its status, stderr and peak RSS in MB. */
async function measured(h: Harness, args: string[]): Promise<{ status: number | null; stderr: string; peakMb: number }> {
  const rssFile = path.join(h.tmp, `rss-${Date.now()}`);
  const child = spawn(process.execPath, [RECORD_RSS, path.join(repo, 'bin', 'tsbuild.js'), ...args], {
    cwd: h.tmp,
    env: { ...process.env, TSBUILD_ROOT: h.root, TSBUILD_TEST_RSS_FILE: rssFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stderr, peakMb: Number(await readFile(rssFile, 'utf8')) / 1024 };
}

test('a 200 MB random layer pushes (in chunks) and pulls with peak RSS far below its size', async (t) => {
  t.timeout(300_000);
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const proxy = await startFaultProxy(reg.host, {});
  t.teardown(() => proxy.stop());
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'big');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY big /big\n');
  const fh = await open(path.join(dir, 'big'), 'w');
  for (let i = 0; i < LAYER / (8 << 20); i++) await fh.write(randomBytes(8 << 20));
  await fh.close();
  const small = path.join(h.tmp, 'small');
  await mkdir(small);
  await writeFile(path.join(small, 'Dockerfile'), 'FROM busybox\nCOPY Dockerfile /x\n');

  // Baseline: the same work for a tiny layer.
  const base = await measured(h, ['build', '--progress=plain', '--push', '-t', `${proxy.host}/large/small:v1`, small]);
  t.is(base.status, 0, base.stderr);
  const pushed = await measured(h, ['build', '--progress=plain', '--push', '-t', `${proxy.host}/large/big:v1`, dir]);
  t.is(pushed.status, 0, pushed.stderr);
  t.log(`build+push peak RSS: ${pushed.peakMb.toFixed(0)} MB (baseline ${base.peakMb.toFixed(0)} MB)`);
  t.true(pushed.peakMb - base.peakMb < 150, `push peak ${pushed.peakMb.toFixed(0)} MB vs baseline ${base.peakMb.toFixed(0)} MB`);
  // The big layer went up in Content-Range chunks, then a closing PUT.
  t.true(proxy.log.filter((e) => e.method === 'PATCH' && e.status === 202).length >= 10);

  const other = await createHarness(t, { busybox: false });
  const pull = path.join(other.tmp, 'pull');
  await mkdir(pull);
  await writeFile(path.join(pull, 'Dockerfile'), `FROM ${proxy.host}/large/big:v1\nRUN test "$(wc -c < /big)" -eq ${LAYER}\n`);
  const pulled = await measured(other, ['build', '--progress=plain', pull]);
  t.is(pulled.status, 0, pulled.stderr);
  t.log(`pull+unpack peak RSS: ${pulled.peakMb.toFixed(0)} MB`);
  t.regex(pulled.stderr, /pulled .*large\/big:v1: 2\d{8} bytes downloaded/);
  t.true(pulled.peakMb - base.peakMb < 150, `pull peak ${pulled.peakMb.toFixed(0)} MB vs baseline ${base.peakMb.toFixed(0)} MB`);
});
