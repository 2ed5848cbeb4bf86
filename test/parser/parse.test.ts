import test from 'ava';
import fc from 'fast-check';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { dumpAst, encodeText, parseDockerfile, type InstructionNode } from '../../src/parser/index.js';
import { grammarParses } from '../../src/parser/instruction-line.js';

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
  // Every logical line of our fixtures and of the shared corpus, plus hand-picked tricky lines and
  // random ones: nearley must find exactly one parse (splitInstructionLine also enforces this).
  const lines = ['RUN a', 'COPY --a --b x y', 'COPY -- --x y', 'X --', 'RUN --a="b c" -- d', '--x', '-- --', 'ONBUILD --f RUN x', 'A --b="c d\' e" f', 'A --b\\ c d'];
  const collect = (n: InstructionNode): void => {
    if (n.original.trim() !== '') lines.push(n.original.trim());
  };
  const dirs = [root];
  const realistic = path.resolve('../shared/conformance/realistic');
  if (existsSync(realistic)) dirs.push(realistic);
  for (const dir of dirs) for (const name of readdirSync(dir)) parseDockerfile(readFileSync(path.join(dir, name, 'Dockerfile'))).instructions.forEach(collect);
  t.true(lines.length > 300, `only ${lines.length} lines`);
  for (const line of lines) t.is(grammarParses(line, '\\').length, 1, line);
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z]+( +(--|-|"|'|\\|[a-z=]|\t)+){0,6} *$/), fc.constantFrom('\\', '`') as fc.Arbitrary<'\\' | '`'>, (line, esc) => {
      t.is(grammarParses(line.trim(), esc).length, 1, line);
    }),
    { numRuns: 500 },
  );
});

test('UTF-8 in flags stays intact (deliberate divergence from BuildKit\'s byte-wise flag scan)', (t) => {
  // BuildKit would print "--chown=Ã¼ser" and split "--label=àb" at the 0xA0 byte of "à".
  const ast = parseDockerfile('FROM x\nCOPY --chown=üser --label=àb --x="日本 語" s d\n');
  t.deepEqual(ast.instructions[1]!.flags, ['--chown=üser', '--label=àb', '--x=日本 語']);
  t.deepEqual(ast.instructions[1]!.args, ['s', 'd']);
});

test('a lone escape line is an instruction with an empty keyword, as in BuildKit', (t) => {
  const ast = parseDockerfile('\\\n');
  t.is(dumpAst(ast), '("")');
  t.is(ast.instructions[0]!.keyword, '');
});

test('heredoc fd, ONBUILD heredocs and byte-faithful bodies', (t) => {
  const bytes = Buffer.concat([Buffer.from('FROM x\nONBUILD RUN 3<<"A" cat <&3\nraw \\\n'), Buffer.from([0xff, 0xfe]), Buffer.from('\nA\nCMD x\n')]);
  const ast = parseDockerfile(bytes);
  const onbuild = ast.instructions[1]!;
  t.deepEqual(onbuild.range, { startLine: 2, endLine: 5 });
  const h = onbuild.onbuild!.heredocs[0]!;
  t.deepEqual([h.name, h.fd, h.expand, h.chomp, h.range], ['A', 3, false, false, { startLine: 3, endLine: 5 }]);
  // The body holds invalid UTF-8; encodeText gives back the exact bytes.
  t.deepEqual(Buffer.from(encodeText(h.content)), Buffer.concat([Buffer.from('raw \\\n'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]));
  t.is(dumpAst(ast), '(from "x")\n(onbuild (run "3<<\\"A\\" cat <&3"))\n(cmd "x")');
});
