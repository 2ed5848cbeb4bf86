/**
 * Parser throughput over the realistic corpus (MB/s) and the warm time to parse a 300-line
 * Dockerfile. Goal: < 2 ms for 300 lines, so parsing never shows in a no-op rebuild.
 *   node --import=tsx/esm bench/parse.bench.ts
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseDockerfile } from '../src/parser/index.js';

const dir = path.resolve('../shared/conformance/realistic');
const files = existsSync(dir)
  ? readdirSync(dir).map((n) => readFileSync(path.join(dir, n, 'Dockerfile')))
  : readdirSync('fixtures/dockerfiles').map((n) => readFileSync(path.join('fixtures/dockerfiles', n, 'Dockerfile')));
const total = files.reduce((a, f) => a + f.length, 0);

for (let i = 0; i < 20; i++) for (const f of files) parseDockerfile(f);
const rounds = 200;
let t0 = performance.now();
for (let i = 0; i < rounds; i++) for (const f of files) parseDockerfile(f);
const secs = (performance.now() - t0) / 1000;
console.log(`corpus: ${files.length} files, ${(total / 1024).toFixed(1)} KiB; throughput ${((total * rounds) / secs / 1e6).toFixed(2)} MB/s`);

// A 300-line file assembled from whole corpus files (keeps every instruction intact).
let big = '';
for (let i = 0; big.split('\n').length < 300; i++) big += `${files[i % files.length]!.toString('utf8').replace(/\n?$/, '\n')}`;
const lines = big.split('\n').slice(0, 300);
// Cut at an instruction boundary: drop trailing lines until the prefix parses.
let text = lines.join('\n');
while (text.length > 0) {
  try {
    parseDockerfile(text);
    break;
  } catch {
    text = text.slice(0, text.lastIndexOf('\n'));
  }
}
const n = text.split('\n').length;
for (let i = 0; i < 200; i++) parseDockerfile(text);
const samples: number[] = [];
for (let i = 0; i < 500; i++) {
  t0 = performance.now();
  parseDockerfile(text);
  samples.push(performance.now() - t0);
}
samples.sort((a, b) => a - b);
console.log(`${n}-line Dockerfile, warm: median ${samples[250]!.toFixed(3)} ms, p95 ${samples[475]!.toFixed(3)} ms (goal < 2 ms)`);
