/**
 * The launcher (bin/tsbuild.cjs) runs dist/bundle/main.cjs through V8's code cache: the bundle must not need
 * anything a vm-compiled script cannot do (a dynamic import), and each command gets its cache.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repo } from '../helpers/tsbuild.js';

const bundle = path.join(repo, 'dist', 'bundle', 'main.cjs');

/** A private copy of launcher and bundle: the suite's other CLI runs write caches next to the real one. */
async function privateInstall(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-launcher-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'bin'));
  await mkdir(path.join(dir, 'dist', 'bundle'), { recursive: true });
  for (const f of ['tsbuild.js', 'tsbuild.cjs']) await copyFile(path.join(repo, 'bin', f), path.join(dir, 'bin', f));
  await copyFile(bundle, path.join(dir, 'dist', 'bundle', 'main.cjs'));
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}\n');
  return dir;
}

test('the bundle holds no dynamic import (a vm-compiled script cannot load one)', (t) => {
  t.true(existsSync(bundle), 'npm run build makes the bundle');
  t.false(/\bimport\(/.test(readFileSync(bundle, 'utf8')));
});

test('a command writes its code cache on first run and runs from it afterwards', async (t) => {
  const dir = await privateInstall(t);
  const cache = path.join(dir, 'dist', 'bundle', 'main.cjs.plan.v8cache');
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(dir, 'bin', 'tsbuild.js'), ...args], { encoding: 'utf8' });
  // --help is informational: it never writes the plan cache.
  t.is(cli('plan', '--help').status, 0);
  t.false(existsSync(cache));
  const project = path.join(repo, 'fixtures', 'hello');
  const first = cli('plan', project);
  t.is(first.status, 0, first.stderr);
  t.true(existsSync(cache));
  const size = readFileSync(cache).length;
  const second = cli('plan', project);
  t.is(second.status, 0, second.stderr);
  t.is(second.stdout, first.stdout);
  t.is(readFileSync(cache).length, size, 'an accepted cache is not rewritten');
  t.deepEqual((await readdir(path.join(dir, 'dist', 'bundle'))).sort(), ['main.cjs', 'main.cjs.other.v8cache', 'main.cjs.plan.v8cache']);
});

test("the launcher's command list (one code cache per command) is the CLI's", async (t) => {
  const { COMMANDS } = await import('../../src/cli/commands/index.js');
  const launcher = readFileSync(path.join(repo, 'bin', 'tsbuild.cjs'), 'utf8');
  const listed = /const commands = \[([^\]]*)\]/.exec(launcher)?.[1]?.match(/'([^']+)'/g)?.map((q) => q.slice(1, -1)) ?? [];
  t.deepEqual([...listed].sort(), COMMANDS.flatMap((c) => c.names).sort());
});

test('a failed run writes no code cache (it would stand for an early exit, not the usual path)', async (t) => {
  const dir = await privateInstall(t);
  const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'tsbuild.js'), 'plan', path.join(dir, 'no-such-project')], { encoding: 'utf8' });
  t.not(r.status, 0);
  t.deepEqual(await readdir(path.join(dir, 'dist', 'bundle')), ['main.cjs']);
});
