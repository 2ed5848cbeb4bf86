/**
 * Runs the shared BuildKit conformance corpus (../shared/conformance) when it is present:
 * every case in-process, and the official check script once through the built CLI.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { dumpAst, parseDockerfile } from '../../src/parser/index.js';

const corpus = path.resolve('..', 'shared', 'conformance');
const present = existsSync(path.join(corpus, 'check-parser.sh'));

function cases(suite: string): Array<{ dir: string; positive: boolean }> {
  const base = path.join(corpus, suite);
  if (existsSync(path.join(base, 'positive')) || existsSync(path.join(base, 'negative'))) {
    const list = (kind: string) =>
      existsSync(path.join(base, kind)) ? readdirSync(path.join(base, kind)).sort().map((n) => ({ dir: path.join(base, kind, n), positive: kind === 'positive' })) : [];
    return [...list('positive'), ...list('negative')];
  }
  return readdirSync(base).sort().filter((n) => existsSync(path.join(base, n, 'result'))).map((n) => ({ dir: path.join(base, n), positive: true }));
}

if (!present) {
  test('conformance corpus (../shared/conformance) is not present: skipped', (t) => {
    if (process.env.CI === 'true') t.fail('CI must run with ../shared beside the project');
    else t.pass();
  });
} else {
  for (const suite of ['buildkit-parser', 'extra', 'realistic']) {
    for (const c of cases(suite)) {
      const label = `${suite}/${path.relative(path.join(corpus, suite), c.dir)}`;
      test(`conformance ${label}`, (t) => {
        const input = readFileSync(path.join(c.dir, 'Dockerfile'));
        if (c.positive) {
          const want = readFileSync(path.join(c.dir, 'result'), 'utf8').replace(/\n$/, '');
          t.is(dumpAst(parseDockerfile(input)), want);
        } else {
          const err = t.throws(() => parseDockerfile(input)) as { code?: string };
          t.regex(err.code ?? '', /^ERR_TSBUILD_PARSE_/);
        }
      });
    }
  }

  test('check-parser.sh through the built CLI: 122 passed, 0 failed', (t) => {
    const out = execFileSync('bash', [path.join(corpus, 'check-parser.sh')], {
      env: { ...process.env, TSBUILD: `node ${path.resolve('bin/tsbuild.js')}` },
      encoding: 'utf8',
    });
    t.regex(out.trim().split('\n').at(-1)!, /^122 passed, 0 failed$/);
  });

  test('quirks: we keep UTF-8 intact in flags (a documented divergence), the lone escape matches', (t) => {
    const flags = path.join(corpus, 'quirks', 'positive', 'flags-non-ascii', 'Dockerfile');
    if (!existsSync(flags)) return t.pass();
    const dump = dumpAst(parseDockerfile(readFileSync(flags)));
    t.true(dump.includes('"--chown=üser"'));
    const lone = path.join(corpus, 'quirks', 'positive', 'lone-backslash-line');
    t.is(dumpAst(parseDockerfile(readFileSync(path.join(lone, 'Dockerfile')))), readFileSync(path.join(lone, 'result'), 'utf8').replace(/\n$/, ''));
  });
}
