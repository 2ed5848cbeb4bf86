// Compiles grammar/*.ne into src/parser/grammar.generated.ts with nearleyc.
// The generated file is git-ignored: the .ne sources are the truth.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'grammar', 'dockerfile.ne');
const out = path.join(root, 'src', 'parser', 'grammar.generated.ts');
const nearleyc = path.join(root, 'node_modules', 'nearley', 'bin', 'nearleyc.js');

if (!existsSync(entry)) {
  console.error(`build-grammar: ${entry} is missing`);
  process.exit(1);
}
execFileSync(process.execPath, [nearleyc, entry, '-o', out], { stdio: 'inherit' });
