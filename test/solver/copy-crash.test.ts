/**
 * A tsbuild SIGKILLed in the middle of a COPY (written into the snapshot's upper dir directly,
 * solver/ops/copy-into-upper.ts, or linked from an earlier layer, copy-reuse.ts) loses nothing:
 * the next build in the same state root cleans up after it and makes exactly the context's files,
 * then the one after that links them again.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mountsMatching } from '../helpers/mounts.js';
import { createHarness, repo, type Harness } from '../helpers/tsbuild.js';

/** Content hashes of every file under `dir`, by relative path. */
function tree(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of tree(dir, r)) out.set(k, v);
    else out.set(r, createHash('sha256').update(readFileSync(path.join(dir, r))).digest('hex'));
  }
  return out;
}

/** Starts a build and SIGKILLs it shortly after its COPY step starts; returns its progress events. */
async function killDuringCopy(h: Harness, ctx: string): Promise<string> {
  const child = spawn(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'build', '--progress=rawjson', ctx], { env: { ...process.env, TSBUILD_ROOT: h.root }, stdio: ['ignore', 'ignore', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      seen += d;
      if (/"type":"vertex.start"[^\n]*COPY/.test(seen)) setTimeout(() => child.kill('SIGKILL'), 40);
    });
    child.on('exit', () => resolve());
  });
  return seen;
}

test('SIGKILL during a direct or reused COPY: the next builds clean up and copy exactly the context', async (t) => {
  const h = await createHarness(t);
  const ctx = path.join(h.tmp, 'ctx');
  for (let d = 0; d < 30; d++) {
    await mkdir(path.join(ctx, 'src', `m${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) await writeFile(path.join(ctx, 'src', `m${d}`, `f${f}.txt`), `module ${d} file ${f}\n`.repeat(20));
  }
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nWORKDIR /app\nCOPY . /app/\n');
  const build = (n: number) => {
    const out = path.join(h.tmp, `out${n}`);
    h.ok(['build', '--progress=quiet', '-o', `type=local,dest=${out}`, ctx]);
    return tree(path.join(out, 'app'));
  };

  const cut = (events: string) => !events.includes('"type":"build.end"');
  t.true(cut(await killDuringCopy(h, ctx)), 'a direct COPY, cut short');
  t.deepEqual(build(1), tree(ctx));
  appendFileSync(path.join(ctx, 'src', 'm3', 'f7.txt'), 'edited\n');
  t.true(cut(await killDuringCopy(h, ctx)), 'a reusing COPY, cut short');
  t.deepEqual(build(2), tree(ctx));
  appendFileSync(path.join(ctx, 'src', 'm4', 'f8.txt'), 'edited again\n');
  t.deepEqual(build(3), tree(ctx));

  t.deepEqual(readdirSync(path.join(h.root, 'snapshots', 'active')), [], 'no snapshot of the killed builds is left');
  t.deepEqual(mountsMatching(h.root), [], 'nothing of the state root is mounted');
});
