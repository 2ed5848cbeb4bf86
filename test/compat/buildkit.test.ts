/**
 * Compatibility with `docker build` (BuildKit 0.13, Docker 26): each `fixtures/compat/<case>/`
 * is built by both builders from the same lab-registry base, and the two images are compared —
 * (a) the config (normalised only as compare.ts explains), (b) the final filesystem (path, type,
 * mode, owner, size, content hash, link target; no mtimes), (c) each layer's entries, whiteouts
 * and opaque markers included. A case's `setup.sh` (run in the copied context) makes what git
 * cannot store: hard links, setuid/sticky modes, empty dirs, tarballs; its `build-args` (KEY=VALUE
 * lines) and `target` (a stage name) go to both builders.
 *
 * Needs the peer lab (../shared/peers/setup.sh); skips with a log line where it is absent.
 * Run: `npm run build && npx ava test/compat/buildkit.test.ts`.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { baseOf, configLines, fsLines, layerLines, lineDiff, mtimeLines, normalizeConfig } from './compare.js';
import { readImage } from './image-tree.js';
import { buildWithBuildKit, buildWithTsbuild, labUnavailable } from './lab.js';

const fixtures = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'compat');
const cases = readdirSync(fixtures).sort();
/** 2009-02-13T23:31:30Z, given to every context entry. */
const CONTEXT_MTIME = 1234567890;
/** 2024-01-01: the lab's bases are stamped with it; nothing a 2026 build creates is this old. */
const INPUTS_UP_TO = 1704067200;

type Aspect = 'config' | 'fs' | 'mtimes' | `layer${number}`;

/**
 * Divergences we know about and have not fixed yet, listed line by line (`-` BuildKit only,
 * `+` tsbuild only), each with the reason. A case's aspect must then differ by exactly these
 * lines: a new difference fails, and so does a fixed one (delete its entry).
 */
const knownDifferences: Record<string, Partial<Record<Aspect, { why: string; lines: string[] }>>> = {};

const unavailable = await labUnavailable();
const tmp = unavailable ? '' : await mkdtemp(path.join(os.tmpdir(), 'tsbuild-compat-'));
const root = path.join(tmp, 'state');
// Two builds at a time keeps the whole run short without swamping a 2-core machine.
const limit = pLimit(2);

test.after.always(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A problem report for one aspect, or undefined when it matches (or differs exactly as known). */
function check(name: string, aspect: Aspect, bk: string[], ts: string[]): string | undefined {
  const diff = lineDiff(bk, ts);
  const known = knownDifferences[name]?.[aspect];
  if (known) {
    if (JSON.stringify(diff) === JSON.stringify(known.lines)) return undefined;
    return `${aspect}: differs other than as knownDifferences lists (${known.why}); now:\n${diff.join('\n') || '(no difference: delete the entry)'}`;
  }
  return diff.length === 0 ? undefined : `${aspect}: differs from BuildKit (- BuildKit only, + tsbuild only):\n${diff.join('\n')}`;
}

for (const name of cases) {
  test(name, async (t) => {
    if (unavailable) {
      t.log(`skipped: ${unavailable}`);
      t.pass();
      return;
    }
    const work = path.join(tmp, name);
    const ctx = path.join(work, 'context');
    await cp(path.join(fixtures, name), ctx, { recursive: true });
    if (existsSync(path.join(ctx, 'setup.sh'))) {
      execFileSync('sh', ['setup.sh'], { cwd: ctx });
      await rm(path.join(ctx, 'setup.sh'));
    }
    let buildArgs: string[] = [];
    if (existsSync(path.join(ctx, 'build-args'))) {
      buildArgs = readFileSync(path.join(ctx, 'build-args'), 'utf8').split('\n').filter((l) => l.trim() !== '');
      await rm(path.join(ctx, 'build-args'));
    }
    const flags = buildArgs.flatMap((a) => ['--build-arg', a]);
    if (existsSync(path.join(ctx, 'target'))) {
      flags.push('--target', readFileSync(path.join(ctx, 'target'), 'utf8').trim());
      await rm(path.join(ctx, 'target'));
    }
    const bkTar = path.join(work, 'buildkit.tar');
    const tsTar = path.join(work, 'tsbuild.tar');
    // Every context entry gets one old, recognisable time (mtimes are compared where inherited).
    execFileSync('sh', ['-c', `find . -exec touch -h -d @${CONTEXT_MTIME} {} +`], { cwd: ctx });
    await limit(() => {
      return Promise.all([buildWithBuildKit(ctx, `tsbuild-compat/${name}:${process.pid}`, bkTar, flags), buildWithTsbuild(ctx, root, tsTar, flags)]);
    });
    const [bk, ts] = await Promise.all([readImage(bkTar), readImage(tsTar)]);

    // The final stage's base image (if any) is the shared prefix: its history and layers must be identical.
    const { history: nHist, layers: nLayers } = baseOf(bk.config);
    const keepCreated = buildArgs.some((a) => a.startsWith('SOURCE_DATE_EPOCH='));
    const problems = [
      check(name, 'config', configLines(normalizeConfig(bk.config, nHist, nLayers, { keepCreated })), configLines(normalizeConfig(ts.config, nHist, nLayers, { keepCreated }))),
      check(name, 'fs', fsLines(bk), fsLines(ts)),
      check(name, 'mtimes', ...mtimeLines(bk, ts, INPUTS_UP_TO)),
    ];
    // Per-layer lists only where the layer counts agree (a count mismatch already fails the config check).
    if (bk.layers.length === ts.layers.length)
      for (let i = nLayers; i < bk.layers.length; i++) problems.push(check(name, `layer${i}`, layerLines(bk.layers[i]!), layerLines(ts.layers[i]!)));
    const found = problems.filter((p) => p !== undefined);
    if (found.length > 0) t.fail(found.join('\n\n'));
    else t.pass();
  });
}
