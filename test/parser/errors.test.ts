import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError } from '../../src/errors/index.js';
import { parseDockerfile } from '../../src/parser/index.js';

const dir = path.resolve('fixtures/dockerfiles-invalid');

const cases: Array<[string, string, number]> = [
  ['unterminated-heredoc', 'ERR_TSBUILD_PARSE_HEREDOC', 2],
  ['bad-escape', 'ERR_TSBUILD_PARSE_DIRECTIVE', 1],
  ['duplicate-directive', 'ERR_TSBUILD_PARSE_DIRECTIVE', 2],
  ['json-null', 'ERR_TSBUILD_PARSE_JSON', 2],
  ['env-one-word', 'ERR_TSBUILD_PARSE_ENV_FORM', 3],
  ['label-missing-equals', 'ERR_TSBUILD_PARSE_ENV_FORM', 2],
  ['no-instructions', 'ERR_TSBUILD_PARSE_NO_INSTRUCTIONS', 2],
];

for (const [name, code, line] of cases) {
  test(`rejects ${name} with ${code} at line ${line}`, (t) => {
    const err = t.throws(() => parseDockerfile(readFileSync(path.join(dir, name)), { file: name }), { instanceOf: DockerfileError }) as DockerfileError;
    t.is(err.code as string, code);
    t.is(err.location.file, name);
    t.is(err.location.startLine, line);
    t.true((err.location.column ?? 0) >= 1);
  });
}

test('rejects a physical line over 64 KiB', (t) => {
  const text = `FROM x\nRUN echo ${'x'.repeat(70_000)}\n`;
  const err = t.throws(() => parseDockerfile(text)) as DockerfileError;
  t.is(err.code, 'ERR_TSBUILD_PARSE_LINE_TOO_LONG');
  t.is(err.location.startLine, 2);
});
