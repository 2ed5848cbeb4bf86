#!/usr/bin/env node
// The launcher (bin/tsbuild runs it; `node bin/tsbuild.js` too). The compiled CLI lives in dist/
// (built by `npm run build`, run by `npm ci` via `prepare`). dist/bundle/main.cjs
// (scripts/bundle.mjs) starts faster; it is used only while it is newer than the unbundled output,
// so a later plain `tsc` run is never shadowed by a stale bundle. A CommonJS file: an ES module
// entry makes Node load its module loader first, ~5 ms of every run.
'use strict';
const { readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const mtime = (rel) => statSync(path.join(dist, rel), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const argv = process.argv.slice(2);
const bundled = mtime('bundle/main.cjs') >= mtime('cli/main.js');
const profile = commandProfile();

void (async () => {
  // A build is a short process: with V8's default budget, TurboFan compiles functions that are
  // merely warm (a walk over a few thousand files), which cost a no-op rebuild ~20 ms of CPU
  // for nothing, and an answered one waited ~5 ms at exit for such a compile still running on a
  // background thread (Node drains them first). Eight times the budget still optimises the
  // really hot loops.
  require('node:v8').setFlagsFromString('--interrupt-budget=540672');
  // A build whose up-to-date record still holds is answered before the build code is loaded
  // (src/cli/up-to-date.ts); any doubt, and every other command, goes on to the full CLI.
  if (profile === 'build' && (await answeredUpToDate())) return;
  const { main } = bundled ? loadBundle(path.join(dist, 'bundle', 'main.cjs')) : await import(require('node:url').pathToFileURL(path.join(dist, 'cli', 'main.js')).href);
  main(argv);
})();

async function answeredUpToDate() {
  try {
    const check = bundled ? require(path.join(dist, 'bundle', 'up-to-date.cjs')) : await import(require('node:url').pathToFileURL(path.join(dist, 'cli', 'up-to-date.js')).href);
    return await check.answerUpToDate(argv);
  } catch {
    return false;
  }
}

/** Which command argv runs, as the CLI decides it: `build` (also `tsbuild PATH`), another name, or `other`. */
function commandProfile() {
  // The CLI's command names (src/cli/commands/index.ts; test/cli/launcher.test.ts keeps them equal).
  const commands = ['build', 'b', 'image', 'history', 'du', 'prune', 'layers', 'bench', 'plan', 'parse'];
  const word = argv.find((a) => !a.startsWith('-'));
  const informational = argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-v');
  const named = word !== undefined && commands.includes(word) ? (word === 'b' ? 'build' : word) : undefined;
  // No command word (or a path in its place) means a build, as `tsbuild .` is.
  return informational ? 'other' : (named ?? (word === undefined || !/^[a-z]+$/.test(word) ? 'build' : 'other'));
}

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
  const vm = require('node:vm');
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
  script.runInThisContext()(module.exports, require('node:module').createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
