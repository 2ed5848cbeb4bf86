// Bundles the compiled CLI (dist/cli/main.js) into one CommonJS file, dist/bundle/main.cjs, with
// esbuild. Start-up cost is most of a no-op rebuild: ~100 ES modules cost Node 0.5-1 ms each to
// resolve and link, and even one ES module bundle is compiled from source on every run. A plain
// script can be compiled from V8's code cache instead, which bin/tsbuild.cjs keeps next to the
// bundle (about 35 ms less per run on the bench project). Dynamic imports stay lazy: esbuild wraps
// those modules in initialisers that run on first use, so `tsbuild --version` still evaluates
// no sandbox or registry code. bin/tsbuild.cjs uses the bundle only while it is newer than
// dist/cli/main.js (a plain `tsc` run after this script makes it stale); without esbuild the
// unbundled dist/ is used as before.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('bundle: esbuild is not installed; bin/tsbuild.cjs will load the unbundled dist/');
  process.exit(0);
}
rmSync(outdir, { recursive: true, force: true });
const bundle = (entry, out) =>
  esbuild.build({
    entryPoints: [path.join(root, 'dist', 'cli', entry)],
    outfile: path.join(outdir, out),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // `await import('node:child_process')` of a built-in would stay a real dynamic import, which a
    // script compiled through vm (bin/tsbuild.cjs) cannot make: esbuild turns them into require().
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
    // src/sandbox/sandbox-exec.ts reads import.meta.url only where __filename is undefined (ES
    // modules); in this CommonJS bundle __filename is set, so the empty import.meta is never read.
    logOverride: { 'empty-import-meta': 'silent' },
  });
await bundle('main.js', 'main.cjs');
// The up-to-date check (src/cli/up-to-date.ts) is its own small bundle: a build it can answer
// never loads the rest.
await bundle('up-to-date.js', 'up-to-date.cjs');
