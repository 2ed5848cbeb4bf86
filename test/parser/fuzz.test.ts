/**
 * Property test: random and mutated Dockerfiles either parse or fail with the parser's own
 * error (a DockerfileError with an ERR_TSBUILD_PARSE_* code), each within 100 ms.
 */
import test from 'ava';
import fc from 'fast-check';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError } from '../../src/errors/index.js';
import { parseDockerfile } from '../../src/parser/index.js';

function seeds(): Buffer[] {
  const out: Buffer[] = [];
  const own = path.resolve('fixtures/dockerfiles');
  for (const d of readdirSync(own)) out.push(readFileSync(path.join(own, d, 'Dockerfile')));
  const realistic = path.resolve('../shared/conformance/realistic');
  if (existsSync(realistic)) for (const d of readdirSync(realistic)) out.push(readFileSync(path.join(realistic, d, 'Dockerfile')));
  return out;
}

const FRAGMENTS = ['\\', '`', '"', "'", '<<EOF', '<<-X', '\nEOF\n', '\r\n', '\ufeff', '[', ']', '["a",', '--', '--x=', '#', '# escape=`\n', '${', '}', '\t', ' ', '\n', 'ONBUILD ', 'RUN ', 'ENV ', '=', '\\\n', '\x00', '\xff'];

function check(t: import('ava').ExecutionContext, input: Uint8Array): void {
  const start = performance.now();
  try {
    parseDockerfile(input);
  } catch (err) {
    if (!(err instanceof DockerfileError) || !err.code.startsWith('ERR_TSBUILD_PARSE_')) {
      t.fail(`unexpected ${String(err)} for ${JSON.stringify(Buffer.from(input).toString('latin1').slice(0, 200))}`);
    }
  }
  const took = performance.now() - start;
  if (took > 100) t.fail(`took ${took.toFixed(1)} ms`);
}

test('5,000+ random and mutated Dockerfiles parse or fail cleanly, each within 100 ms', (t) => {
  const corpus = seeds();
  let runs = 0;
  const mutated = fc
    .tuple(
      fc.constantFrom(...corpus),
      fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 }))), { maxLength: 8 }),
    )
    .map(([seed, edits]) => {
      let s = Buffer.from(seed).toString('latin1');
      for (const [pos, del, ins] of edits) {
        const at = pos % (s.length + 1);
        s = s.slice(0, at) + Buffer.from(ins, 'utf8').toString('latin1') + s.slice(at + del);
      }
      return Buffer.from(s, 'latin1');
    });
  const random = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 10 }), fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1'))), { maxLength: 40 })
    .map((parts) => Buffer.from(parts.join(''), 'latin1'));
  fc.assert(
    fc.property(mutated, (input) => {
      runs++;
      check(t, input);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(random, (input) => {
      runs++;
      check(t, input);
    }),
    { numRuns: 2500 },
  );
  t.true(runs >= 5000, `ran ${runs}`);
});
