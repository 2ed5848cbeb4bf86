/**
 * bin/tsbuild.js runs dist/bundle/main.cjs through V8's code cache: the bundle must not need
 * anything a vm-compiled script cannot do (a dynamic import), and each command gets its cache.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { repo } from '../helpers/tsbuild.js';

const bundle = path.join(repo, 'dist', 'bundle', 'main.cjs');

test('the bundle holds no dynamic import (a vm-compiled script cannot load one)', (t) => {
  t.true(existsSync(bundle), 'npm run build makes the bundle');
  t.false(/\bimport\(/.test(readFileSync(bundle, 'utf8')));
});

test('a command writes its code cache on first run and runs from it afterwards', (t) => {
  const cache = `${bundle}.plan.v8cache`;
  rmSync(cache, { force: true });
  const run = () => spawnSync(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'plan', '--help'], { encoding: 'utf8' });
  // --help is informational: it never writes the plan cache.
  t.is(run().status, 0);
  t.false(existsSync(cache));
  const dockerfile = path.join(repo, 'fixtures', 'hello', 'Dockerfile');
  const plan = () => spawnSync(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'plan', path.dirname(dockerfile)], { encoding: 'utf8' });
  const first = plan();
  t.is(first.status, 0, first.stderr);
  t.true(existsSync(cache));
  const size = readFileSync(cache).length;
  const second = plan();
  t.is(second.status, 0, second.stderr);
  t.is(second.stdout, first.stdout);
  t.is(readFileSync(cache).length, size, 'an accepted cache is not rewritten');
});

test("the launcher's command list (one code cache per command) is the CLI's", async (t) => {
  const { COMMANDS } = await import('../../src/cli/commands/index.js');
  const launcher = readFileSync(path.join(repo, 'bin', 'tsbuild.js'), 'utf8');
  const listed = /const commands = \[([^\]]*)\]/.exec(launcher)?.[1]?.match(/'([^']+)'/g)?.map((q) => q.slice(1, -1)) ?? [];
  t.deepEqual([...listed].sort(), COMMANDS.flatMap((c) => c.names).sort());
});
