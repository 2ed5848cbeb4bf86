import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { dumpAst, parseDockerfile } from '../../src/parser/index.js';

const root = path.resolve('fixtures/dockerfiles');
const cases = readdirSync(root).sort();

for (const name of cases) {
  test(`golden: ${name}`, (t) => {
    const file = path.join(root, name, 'Dockerfile');
    const ast = parseDockerfile(readFileSync(file), { file: `${name}/Dockerfile` });
    t.snapshot(dumpAst(ast), 'dump');
    t.snapshot(
      ast.instructions.map((n) => ({ keyword: n.keyword, range: n.range, heredocs: n.heredocs.map((h) => ({ name: h.name, expand: h.expand, chomp: h.chomp, content: h.content })) })),
      'ranges and heredocs',
    );
  });
}

test('keeps source ranges across continuations, comments and heredoc bodies', (t) => {
  const ast = parseDockerfile(readFileSync(path.join(root, 'multistage', 'Dockerfile')));
  const run = ast.instructions.find((n) => n.keyword === 'run')!;
  t.deepEqual(run.range, { startLine: 6, endLine: 9 });
  const heredocs = parseDockerfile(readFileSync(path.join(root, 'heredocs', 'Dockerfile')));
  t.deepEqual(heredocs.instructions[1]!.range, { startLine: 2, endLine: 5 });
  t.deepEqual(heredocs.instructions[2]!.heredocs.map((h) => [h.name, h.expand, h.chomp, h.content]), [
    ['CFG', false, true, 'key=$value\n'],
    ['X', false, false, 'echo second\n'],
  ]);
  t.deepEqual(heredocs.instructions.at(-1)!.range, { startLine: 16, endLine: 16 });
});

test('records directives, the escape character and structured ENV pairs', (t) => {
  const ast = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nENV A=1 B="2 3"\nENV OLD legacy value\n');
  t.deepEqual(ast.directives.map((d) => [d.name, d.value, d.line]), [
    ['syntax', 'docker/dockerfile:1', 1],
    ['escape', '`', 2],
  ]);
  t.is(ast.escapeChar, '`');
  t.deepEqual(ast.instructions[1]!.pairs, [
    { key: 'A', value: '1', separator: '=' },
    { key: 'B', value: '"2 3"', separator: '=' },
  ]);
  t.deepEqual(ast.instructions[2]!.pairs, [{ key: 'OLD', value: 'legacy value', separator: '' }]);
});

test('warns about empty continuation lines', (t) => {
  const ast = parseDockerfile('FROM x\nRUN a \\\n\n  b\n');
  t.deepEqual(ast.warnings.map((w) => [w.rule, w.range.startLine]), [['NoEmptyContinuation', 3]]);
  t.is(ast.instructions[1]!.args[0], 'a   b');
});

test('exactly one grammar parse per line (ambiguity guard)', (t) => {
  // splitInstructionLine throws if nearley ever yields more or fewer than one parse.
  for (const line of ['RUN a', 'COPY --a --b x y', 'COPY -- --x y', 'X --', 'RUN --a="b c" -- d', '--x', 'ONBUILD --f RUN x']) {
    t.notThrows(() => parseDockerfile(`FROM x\n${line}\n`), line);
  }
});
