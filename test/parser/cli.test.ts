/**
 * `tsbuild parse` through the built CLI (bin/tsbuild.js -> dist/): default file, `-`, --json,
 * byte-faithful reading of invalid UTF-8, and the error rendering (FILE:LINE:COL, no stack).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const bin = path.resolve('bin/tsbuild.js');

function run(cwd: string, args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
}

test('parse reads ./Dockerfile for no FILE and for -, prints the dump and JSON', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-parse-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // 0xff is not UTF-8: it must come out as \xff, which only works when the CLI reads bytes.
  await writeFile(path.join(dir, 'Dockerfile'), Buffer.from([...Buffer.from('FROM a\nRUN echo '), 0xff, 0x0a]));
  for (const args of [['parse', '--dump'], ['parse', '--dump', '-']]) {
    const r = run(dir, args);
    t.is(r.status, 0, r.stderr);
    t.is(r.stdout, '(from "a")\n(run "echo \\xff")\n');
  }
  const json = run(dir, ['parse', '--json']);
  t.is(json.status, 0, json.stderr);
  const ast = JSON.parse(json.stdout) as { instructions: Array<{ keyword: string; range: { startLine: number } }> };
  t.deepEqual(ast.instructions.map((i) => [i.keyword, i.range.startLine]), [['from', 1], ['run', 2]]);
});

test('a parse error prints FILE:LINE:COL, the offending line, exit 1, no stack', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-parse-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'bad.Dockerfile'), 'FROM a\nCMD ["x", 1]\n');
  const r = run(dir, ['parse', '--dump', 'bad.Dockerfile']);
  t.is(r.status, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^bad\.Dockerfile:2:5: .+\n.*CMD \["x", 1\]/);
  t.notRegex(r.stderr, /\n\s+at /);
  const missing = run(dir, ['parse', '--dump', 'nope']);
  t.is(missing.status, 1);
});

test('parse --help describes the command', (t) => {
  const r = run(process.cwd(), ['parse', '--help']);
  t.is(r.status, 0);
  t.regex(r.stdout, /tsbuild parse/);
  t.regex(r.stdout, /--dump/);
  t.regex(r.stdout, /--json/);
});
