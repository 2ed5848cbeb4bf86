// Bundles the compiled CLI (dist/cli/main.js) into dist/bundle/ with esbuild, so that a start-up
// loads a few files instead of ~100 ES modules: per-module resolution and linking cost Node
// 0.5-1 ms each, which was a third of a no-op rebuild. Lazy `await import()`s stay lazy (code
// splitting), so `tsbuild --version` or a cached build never load the sandbox or registry code.
// bin/tsbuild.js uses the bundle only when it is newer than dist/cli/main.js (a plain `tsc` run
// after this script makes it stale); without esbuild the unbundled dist/ is used as before.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('bundle: esbuild is not installed; bin/tsbuild.js will load the unbundled dist/');
  process.exit(0);
}
rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: { main: path.join(root, 'dist', 'cli', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // CommonJS dependencies (nearley, moo, tar-stream) call require() for Node built-ins.
  banner: { js: "import { createRequire as __tsbuildRequire } from 'node:module'; const require = __tsbuildRequire(import.meta.url);" },
  logLevel: 'warning',
});
writeFileSync(path.join(outdir, 'package.json'), '{"type":"module"}\n');
