#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by `npm ci` via `prepare`).
// dist/bundle/main.cjs (scripts/bundle.mjs) starts faster; it is used only while it is newer than the
// unbundled output, so a later plain `tsc` run is never shadowed by a stale bundle.
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

// A build is a short process: with V8's default budget, TurboFan compiles functions that are
// merely warm (a walk over a few thousand files), which cost a no-op rebuild ~20 ms of CPU
// for nothing. Eight times the budget still optimises the really hot loops.
v8.setFlagsFromString('--interrupt-budget=540672');

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const argv = process.argv.slice(2);
const bundled = mtime('../dist/bundle/main.cjs') >= mtime('../dist/cli/main.js');
const { main } = bundled ? loadBundle(fileURLToPath(new URL('../dist/bundle/main.cjs', import.meta.url))) : await import('../dist/cli/main.js');

main(argv);

/**
 * Runs the CommonJS bundle through V8's code cache. Compiling the ~650 KB bundle from source is
 * ~20 ms of every run; from a cache that holds the functions an earlier run of the same command
 * compiled, it is a few ms. The cache sits next to the bundle, one per command (a `parse` run's
 * cache would miss most of a build's functions), and is written at the successful exit of a run
 * that found none or found it rejected (another Node version); a read-only install just runs
 * without one.
 * V8 checks the cache against the source and its flags, so a stale one is only slower, never wrong.
 */
function loadBundle(file) {
  // The CLI's command names (src/cli/commands/index.ts; test/cli/launcher.test.ts keeps them equal).
  const commands = ['build', 'b', 'image', 'history', 'du', 'prune', 'layers', 'bench', 'plan', 'parse'];
  const word = argv.find((a) => !a.startsWith('-'));
  const informational = argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-v');
  const named = word !== undefined && commands.includes(word) ? (word === 'b' ? 'build' : word) : undefined;
  // No command word (or a path in its place) means a build, as `tsbuild .` is.
  const profile = informational ? 'other' : (named ?? (word === undefined || !/^[a-z]+$/.test(word) ? 'build' : 'other'));
  const cacheFile = `${file}.${profile}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // first run of this command
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  if (!cachedData || script.cachedDataRejected) {
    process.once('exit', (code) => {
      // Only a run that worked stands for the command's usual path (a typo'd flag exits early).
      if (code !== 0) return;
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // not writable: fine
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
