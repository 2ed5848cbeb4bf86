/**
 * `-f` names a Dockerfile from the working directory, as `docker build -f` does, not from the
 * context (Docker 26 in the peer lab: `docker build -f Dfile sub` builds ./Dfile, not sub/Dfile).
 */
import test from 'ava';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness } from '../helpers/tsbuild.js';

async function twoDockerfiles(tmp: string): Promise<void> {
  await mkdir(path.join(tmp, 'sub'));
  await writeFile(path.join(tmp, 'Dfile'), 'FROM scratch\nLABEL picked=cwd\nCOPY from-cwd /\n');
  await writeFile(path.join(tmp, 'sub', 'Dfile'), 'FROM scratch\nLABEL picked=context\nCOPY from-context /\n');
  await writeFile(path.join(tmp, 'sub', 'from-cwd'), 'a\n');
  await writeFile(path.join(tmp, 'sub', 'from-context'), 'b\n');
}

test('build -f resolves against the working directory, not the context', async (t) => {
  const h = await createHarness(t);
  await twoDockerfiles(h.tmp);
  h.ok(['build', '--progress=quiet', '-f', 'Dfile', '-o', 'type=local,dest=out', 'sub'], { cwd: h.tmp });
  t.deepEqual(await readdir(path.join(h.tmp, 'out')), ['from-cwd']);
});

test('plan -f resolves against the working directory; a missing file is named as given', async (t) => {
  const h = await createHarness(t);
  await twoDockerfiles(h.tmp);
  t.regex(h.ok(['plan', '-f', 'Dfile', 'sub'], { cwd: h.tmp }), /picked=cwd|"picked":\s*"cwd"/);
  const missing = h.run(['plan', '-f', 'nope/Dockerfile', 'sub'], { cwd: h.tmp });
  t.is(missing.status, 1);
  t.regex(missing.stderr, /nope\/Dockerfile/);
  t.notRegex(missing.stderr, /sub\/nope/);
});
