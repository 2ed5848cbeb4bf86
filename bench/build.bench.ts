/**
 * tsbuild against BuildKit (Docker 26 from ../shared/peers) on ../shared/peers/bench: cold,
 * no-op, touch (mtime only) and edit-one-file builds, interleaved run by run, printing the
 * median seconds per builder and the tsbuild/BuildKit ratios next to the goals
 * (no-op <= 0.5x, edit <= 0.7x, cold <= 0.9x).
 *
 *   sudo node --import=tsx/esm bench/build.bench.ts [RUNS]
 *
 * Needs the peer lab (`bash ../shared/peers/setup.sh`): its registry serves the base image and
 * its dockerd is BuildKit. Without dockerd only the tsbuild column is printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const runs = Number(process.argv[2] ?? 3);
const repo = path.resolve(import.meta.dirname, '..');
const peers = path.resolve(repo, '..', 'shared', 'peers');
const dockerfile = path.join(peers, 'bench', 'Dockerfile');
const base = process.env.BASE ?? '127.0.0.1:5000/busybox:latest';
const docker = '/usr/bin/docker';
const work = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-bench-'));
const ctx = path.join(work, 'ctx');
const touched = path.join(ctx, 'src/mod07/file013.txt');
const original = path.join(work, 'touched.orig');

execFileSync('bash', [path.join(peers, 'bench', 'gen-context.sh'), ctx], { stdio: 'ignore' });
copyFileSync(touched, original);
const haveDocker = existsSync('/var/run/docker.sock') && spawnSync(docker, ['info'], { stdio: 'ignore' }).status === 0;

// The base image, exported once, so a "cold" tsbuild root starts with it local like the peers.
const baseTar = path.join(work, 'base.tar');
execFileSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${base}`, `oci-archive:${baseTar}:${base}`]);

function seconds(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const tsbuild = (root: string) => () => seconds(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'build', '--progress=quiet', '-f', dockerfile, ctx], { TSBUILD_ROOT: root });
const buildkit = () => seconds(docker, ['build', '--network=none', '--progress=plain', '-f', dockerfile, '-t', 'bench:buildkit', ctx], { DOCKER_BUILDKIT: '1' });

type Scenario = 'cold' | 'noop' | 'touch' | 'edit';
const results: Record<string, Record<Scenario, number[]>> = {};
const record = (who: string, s: Scenario, t: number) => {
  results[who] ??= { cold: [], noop: [], touch: [], edit: [] };
  results[who]![s].push(t);
};

function scenarios(who: string, reset: () => void, build: () => number): void {
  copyFileSync(original, touched);
  reset();
  record(who, 'cold', build());
  record(who, 'noop', build());
  const later = new Date(Date.now() + 1000);
  utimesSync(touched, later, later);
  record(who, 'touch', build());
  appendFileSync(touched, `edit ${Date.now()}\n`);
  record(who, 'edit', build());
}

try {
  for (let run = 1; run <= runs; run++) {
    const root = path.join(work, `root-${run}`);
    scenarios(
      'tsbuild',
      () => {
        rmSync(root, { recursive: true, force: true });
        execFileSync(process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), 'image', 'load', baseTar], { env: { ...process.env, TSBUILD_ROOT: root }, stdio: 'ignore' });
      },
      tsbuild(root),
    );
    if (haveDocker) {
      scenarios(
        'buildkit',
        () => {
          spawnSync(docker, ['rmi', '-f', 'bench:buildkit'], { stdio: 'ignore' });
          execFileSync(docker, ['builder', 'prune', '-af'], { stdio: 'ignore' });
          spawnSync(docker, ['pull', '-q', base], { stdio: 'ignore' });
        },
        buildkit,
      );
    }
    process.stderr.write(`run ${run}/${runs} done\n`);
  }
} finally {
  copyFileSync(original, touched);
  rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const goals: Record<Scenario, number> = { cold: 0.9, noop: 0.5, touch: 0.5, edit: 0.7 };
const order: Scenario[] = ['cold', 'noop', 'touch', 'edit'];
console.log(`median seconds over ${runs} run(s) on ../shared/peers/bench (${os.cpus().length} cores)`);
console.log(['builder', ...order].map((c) => c.padEnd(10)).join(''));
for (const [who, r] of Object.entries(results)) console.log([who, ...order.map((s) => median(r[s]).toFixed(3))].map((c) => c.padEnd(10)).join(''));
if (results.buildkit && results.tsbuild) {
  console.log(['ratio', ...order.map((s) => (median(results.tsbuild![s]) / median(results.buildkit![s])).toFixed(2) + 'x')].map((c) => c.padEnd(10)).join(''));
  console.log(['goal', ...order.map((s) => `<=${goals[s]}x`)].map((c) => c.padEnd(10)).join(''));
}
