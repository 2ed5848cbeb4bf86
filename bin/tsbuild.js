#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by `npm ci` via `prepare`).
// dist/bundle/ (scripts/bundle.mjs) starts faster; it is used only while it is newer than the
// unbundled output, so a later plain `tsc` run is never shadowed by a stale bundle.
import { statSync } from 'node:fs';
import v8 from 'node:v8';

// A build is a short process: with V8's default budget, TurboFan compiles functions that are
// merely warm (a walk over a few thousand files), which cost a no-op rebuild ~20 ms of CPU
// for nothing. Eight times the budget still optimises the really hot loops.
v8.setFlagsFromString('--interrupt-budget=540672');

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('../dist/bundle/main.mjs') >= mtime('../dist/cli/main.js');
const { main } = await import(bundled ? '../dist/bundle/main.mjs' : '../dist/cli/main.js');

main(process.argv.slice(2));
