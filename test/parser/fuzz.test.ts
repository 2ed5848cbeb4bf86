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

// Byte fragments (not strings): BOM and invalid UTF-8 must reach the parser as the exact bytes.
const FRAGMENTS: Buffer[] = [
  ...['\\', '`', '"', "'", '<<EOF', '<<-X', '<<"Q"', '\nEOF\n', '\n\tX\n', '\r\n', '\r', '[', ']', '["a",', '[1]', '--', '--x=', '#', '# escape=`\n', '# syntax=x\n', '${', '}', '\t', ' ', '\n', 'ONBUILD ', 'RUN ', 'COPY ', 'ENV ', 'LABEL ', '=', '\\\n', '\\ \n', '\x00', 'ü', '日本'].map((f) => Buffer.from(f, 'utf8')),
  Buffer.from([0xef, 0xbb, 0xbf]), // BOM
  Buffer.from([0xff]),
  Buffer.from([0xc3]), // truncated 2-byte sequence
  Buffer.from([0xed, 0xa0, 0x80]), // encoded surrogate (invalid in UTF-8)
  Buffer.from([0xc2, 0xa0]), // no-break space
];

type Edit = { kind: 'insert'; at: number; bytes: Buffer } | { kind: 'delete'; at: number; len: number } | { kind: 'duplicate'; at: number; len: number };

const fragment = fc.oneof(fc.constantFrom(...FRAGMENTS), fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => Buffer.from(b)), fc.string({ minLength: 1, maxLength: 6 }).map((x) => Buffer.from(x, 'utf8')));
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fragment }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
);

function applyEdits(seed: Buffer, edits: Edit[]): Buffer {
  let b = seed;
  for (const e of edits) {
    const at = e.at % (b.length + 1);
    if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
    else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]);
    else b = Buffer.concat([b.subarray(0, at + e.len), b.subarray(at, at + e.len), b.subarray(at + e.len)]);
  }
  return b;
}

const outcomes = { parsed: 0, rejected: 0 };

function check(t: import('ava').ExecutionContext, input: Uint8Array): void {
  const start = performance.now();
  try {
    parseDockerfile(input);
    outcomes.parsed++;
  } catch (err) {
    outcomes.rejected++;
    if (!(err instanceof DockerfileError) || !err.code.startsWith('ERR_TSBUILD_PARSE_')) {
      t.fail(`unexpected ${String(err)} for ${JSON.stringify(Buffer.from(input).toString('latin1').slice(0, 200))}`);
    }
  }
  const took = performance.now() - start;
  // A slow input is timed again: a parser that is really slow on it stays slow every time, while
  // a GC pause or a descheduled process on a loaded CI machine does not repeat three times.
  if (took > 100 && Math.min(...[0, 1].map(() => timeParse(input))) > 100) t.fail(`took ${took.toFixed(1)} ms: ${JSON.stringify(Buffer.from(input).toString('latin1').slice(0, 200))}`);
}

function timeParse(input: Uint8Array): number {
  const start = performance.now();
  try {
    parseDockerfile(input);
  } catch {
    // outcome already checked
  }
  return performance.now() - start;
}

test('5,000+ random and mutated Dockerfiles parse or fail cleanly, each within 100 ms', (t) => {
  const corpus = seeds();
  let runs = 0;
  const mutated = fc.tuple(fc.constantFrom(...corpus), fc.array(edit, { minLength: 1, maxLength: 10 })).map(([seed, edits]) => applyEdits(seed, edits));
  const random = fc.array(fragment, { maxLength: 40 }).map((parts) => Buffer.concat(parts));
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
  // Both paths must be exercised, or the generators have drifted into only-valid or only-garbage input.
  t.true(outcomes.parsed > 1000 && outcomes.rejected > 100, JSON.stringify(outcomes));
  t.log(outcomes);
});
