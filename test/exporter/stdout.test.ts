/**
 * Tarballs on stdout (`dest=-`, `-o -`) and the shape of our archives' ends: whole 10 KiB tar
 * records, so GNU tar --delete keeps every other entry.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness, events, repo, type Harness } from '../helpers/tsbuild.js';

const bin = path.join(repo, 'bin', 'tsbuild.js');
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

async function project(h: Harness): Promise<string> {
  const ctx = path.join(h.tmp, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(path.join(ctx, 'hello.txt'), 'hello from stdout\n');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo ran > /ran\n');
  return ctx;
}

/** Runs the CLI with stdout captured as bytes (the harness decodes it as text). */
function runBinary(h: Harness, args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: h.tmp, env: { ...process.env, TSBUILD_ROOT: h.root, ...EPOCH }, maxBuffer: 256 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

test('-o type=oci,dest=- writes the tarball to stdout, progress to stderr; same bytes as dest=FILE; skopeo reads it', async (t) => {
  const h = await createHarness(t);
  const ctx = await project(h);
  const file = path.join(h.tmp, 'file.tar');
  h.ok(['build', '--progress=plain', '-o', `type=oci,dest=${file}`, ctx], { env: EPOCH });

  for (const progress of ['plain', 'rawjson']) {
    const r = runBinary(h, ['build', `--progress=${progress}`, '-o', 'type=oci,dest=-', ctx]);
    t.is(r.status, 0, r.stderr);
    t.true(r.stdout.equals(await readFile(file)), `${progress}: stdout holds exactly the tarball`);
    t.true(progress === 'plain' ? /#\d+ /.test(r.stderr) : events(r.stderr).some((e) => e.type === 'build.end'), 'progress went to stderr');
    const saved = path.join(h.tmp, `stdout-${progress}.tar`);
    await writeFile(saved, r.stdout);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${saved}`], { encoding: 'utf8' })) as { Layers: string[] };
    t.is(inspect.Layers.length, 3);
  }

  // -q prints the image ID on stdout, except when stdout carries the tarball.
  const quiet = runBinary(h, ['build', '-q', '-o', 'type=docker,dest=-,name=stdout-test:1', ctx]);
  t.is(quiet.status, 0, quiet.stderr);
  t.is(quiet.stdout.length % 10240, 0);
  t.true(quiet.stdout.subarray(-1024).every((b) => b === 0), 'the archive ends in zero blocks: no image ID after it');
  const docker = path.join(h.tmp, 'docker.tar');
  await writeFile(docker, quiet.stdout);
  const listed = execFileSync('tar', ['-tf', docker], { encoding: 'utf8' }).split('\n');
  t.true(listed.includes('manifest.json') && listed.includes('index.json'));

  // `-o -` is buildx's shorthand for type=tar,dest=-: the final filesystem.
  const fs = runBinary(h, ['build', '--progress=plain', '-o', '-', ctx]);
  t.is(fs.status, 0, fs.stderr);
  await writeFile(path.join(h.tmp, 'fs.tar'), fs.stdout);
  const entries = execFileSync('tar', ['-tf', path.join(h.tmp, 'fs.tar')], { encoding: 'utf8' }).split('\n');
  t.true(entries.includes('hello.txt') && entries.includes('ran') && entries.some((e) => /^bin\/(busybox|sh)$/.test(e)), entries.slice(0, 20).join(' '));
});

test('dest=- is refused on a terminal and for type=local before anything is built; a reader leaving early is a coded error', async (t) => {
  const h = await createHarness(t);
  const ctx = await project(h);
  // script(1) gives the CLI a pseudo-terminal as stdout.
  const cmd = `${process.execPath} ${bin} --debug build --progress=plain -o type=oci,dest=- ${ctx}`;
  const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: h.tmp, env: { ...process.env, TSBUILD_ROOT: h.root }, encoding: 'utf8' });
  t.is(tty.status, 1, tty.stdout);
  t.regex(tty.stdout, /code: ERR_TSBUILD_EXPORT_STDOUT_TTY/);
  t.notRegex(tty.stdout, /#\d+ /, 'no step ran');

  const local = h.run(['--debug', 'build', '-o', 'type=local,dest=-', ctx]);
  t.is(local.status, 1);
  t.regex(local.stderr, /code: ERR_TSBUILD_EXPORT_OPTIONS/);
  const two = h.run(['--debug', 'build', '-o', 'type=oci,dest=-', '-o', '-', ctx]);
  t.is(two.status, 1);
  t.regex(two.stderr, /code: ERR_TSBUILD_EXPORT_OPTIONS/);

  // A reader that leaves early (| head) gets a coded error, not an internal EPIPE.
  const err = path.join(h.tmp, 'head.err');
  const piped = spawnSync('bash', ['-c', `set -o pipefail; "$0" "$1" --debug build --progress=plain -o type=oci,dest=- "$2" 2>"$3" | head -c 100 >/dev/null`, process.execPath, bin, ctx, err], {
    cwd: h.tmp,
    env: { ...process.env, TSBUILD_ROOT: h.root },
    encoding: 'utf8',
  });
  t.is(piped.status, 1);
  t.regex(await readFile(err, 'utf8'), /code: ERR_TSBUILD_EXPORT_STDOUT_CLOSED/);
});

test('archives end on whole 10 KiB records: GNU tar --delete on our docker tarball keeps the other entries', async (t) => {
  const h = await createHarness(t);
  const ctx = await project(h);
  const out = path.join(h.tmp, 'img.tar');
  h.ok(['build', '--progress=plain', '-o', `type=docker,dest=${out},name=delete-test:1`, ctx]);
  t.is((await stat(out)).size % 10240, 0);
  const before = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).trim().split('\n');
  for (const victim of ['manifest.json', 'oci-layout', before.find((n) => n.startsWith('blobs/sha256/') && n.length > 20)!]) {
    const copy = path.join(h.tmp, 'deleted.tar');
    execFileSync('cp', [out, copy]);
    execFileSync('tar', ['--delete', '-f', copy, victim]);
    const r = spawnSync('tar', ['-tf', copy], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    t.is(r.stderr, '', `no "Skipping to next header" after deleting ${victim}`);
    t.deepEqual(r.stdout.trim().split('\n'), before.filter((n) => n !== victim));
  }
  // The OCI layout survives the deletion of manifest.json (docker's extra index): skopeo still reads it.
  const oci = path.join(h.tmp, 'oci-only.tar');
  execFileSync('cp', [out, oci]);
  execFileSync('tar', ['--delete', '-f', oci, 'manifest.json']);
  execFileSync('skopeo', ['inspect', `oci-archive:${oci}`], { stdio: 'pipe' });
  t.pass();
});
