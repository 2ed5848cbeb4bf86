import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError } from '../../src/errors/index.js';
import { parseDockerfile } from '../../src/parser/index.js';

const dir = path.resolve('fixtures/dockerfiles-invalid');

// [fixture, code, line, column]: the column points at the offending part of the line
// (the `#` of a directive, the `<<` of a heredoc, the `[` of a JSON array, the word without `=`).
const cases: Array<[string, string, number, number]> = [
  ['unterminated-heredoc', 'ERR_TSBUILD_PARSE_HEREDOC', 2, 5],
  ['bad-escape', 'ERR_TSBUILD_PARSE_DIRECTIVE', 1, 1],
  ['duplicate-directive', 'ERR_TSBUILD_PARSE_DIRECTIVE', 2, 1],
  ['json-null', 'ERR_TSBUILD_PARSE_JSON', 2, 5],
  ['env-one-word', 'ERR_TSBUILD_PARSE_ENV_FORM', 3, 5],
  ['label-missing-equals', 'ERR_TSBUILD_PARSE_ENV_FORM', 2, 11],
  ['no-instructions', 'ERR_TSBUILD_PARSE_NO_INSTRUCTIONS', 2, 1],
];

for (const [name, code, line, column] of cases) {
  test(`rejects ${name} with ${code} at ${line}:${column}`, (t) => {
    const bytes = readFileSync(path.join(dir, name));
    const err = t.throws(() => parseDockerfile(bytes, { file: name }), { instanceOf: DockerfileError }) as DockerfileError;
    t.is(err.code as string, code);
    t.is(err.location.file, name);
    t.is(err.location.startLine, line);
    t.is(err.location.column, column);
    if (code !== 'ERR_TSBUILD_PARSE_NO_INSTRUCTIONS') t.is(err.source, bytes.toString('utf8').split('\n')[line - 1]);
  });
}

test('points into continuation lines and past indentation', (t) => {
  const text = 'FROM x\n  LABEL a=1 \\\n    b=2 \\\n    oops\nRUN [1]\n';
  const err = t.throws(() => parseDockerfile(text), { instanceOf: DockerfileError }) as DockerfileError;
  t.is(err.code, 'ERR_TSBUILD_PARSE_ENV_FORM');
  t.deepEqual([err.location.startLine, err.location.column, err.source], [4, 5, '    oops']);
  const json = t.throws(() => parseDockerfile('FROM x\n\tCMD  ["a", [1]]\n'), { instanceOf: DockerfileError }) as DockerfileError;
  t.deepEqual([json.code, json.location.startLine, json.location.column], ['ERR_TSBUILD_PARSE_JSON', 2, 7]);
  const heredoc = t.throws(() => parseDockerfile('FROM x\nCOPY --chmod=644 <<A <<B /d/\nA\n'), { instanceOf: DockerfileError }) as DockerfileError;
  t.deepEqual([heredoc.code, heredoc.location.startLine, heredoc.location.column], ['ERR_TSBUILD_PARSE_HEREDOC', 2, 18]);
});

test('rejects a physical line over 64 KiB', (t) => {
  const text = `FROM x\nRUN echo ${'x'.repeat(70_000)}\n`;
  const err = t.throws(() => parseDockerfile(text)) as DockerfileError;
  t.is(err.code, 'ERR_TSBUILD_PARSE_LINE_TOO_LONG');
  t.is(err.location.startLine, 2);
});
