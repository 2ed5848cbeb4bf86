import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness } from '../helpers/tsbuild.js';

test('image load: an OCI layout and a docker-save tarball made by skopeo; the loaded image is a usable base', async (t) => {
  const h = await createHarness(t);
  const dir = await h.fixture('hello');
  const oci = path.join(h.tmp, 'hello.oci.tar');
  h.ok(['build', '--progress=quiet', '-o', `type=oci,dest=${oci},name=example.test/hello:v1`, dir]);

  const blobsBefore = (await readdir(path.join(h.root, 'content/blobs/sha256'))).length;
  // Into a second, empty state root, by annotation name.
  const other = await createHarness(t, { busybox: false });
  t.regex(other.ok(['image', 'load', oci]), /Loaded image: example.test\/hello:v1/);
  // docker-save format, as skopeo writes it (uncompressed legacy layers), named by RepoTags.
  const dockerSave = path.join(h.tmp, 'hello.docker.tar');
  execFileSync('skopeo', ['copy', '-q', `oci-archive:${oci}`, `docker-archive:${dockerSave}:saved/hello:v2`]);
  t.regex(other.ok(['image', 'load', dockerSave]), /Loaded image: docker.io\/saved\/hello:v2/);
  t.regex(other.ok(['image', 'ls']), /example.test\/hello:v1/);

  // A loaded image serves as a base.
  const proj = path.join(other.tmp, 'proj');
  execFileSync('mkdir', ['-p', proj]);
  await writeFile(path.join(proj, 'Dockerfile'), 'FROM saved/hello:v2\nUSER root\nRUN cat /srv/shout.txt > /again\n');
  const out = path.join(other.tmp, 'root');
  other.ok(['build', '--progress=quiet', '-o', `type=local,dest=${out}`, proj]);
  t.is(execFileSync('cat', [path.join(out, 'again')], { encoding: 'utf8' }), 'HELLO FROM TSBUILD\n');

  // Loading what is already there stores nothing new: shared layers are kept once.
  h.ok(['image', 'load', '-t', 'again:1', oci]);
  t.is((await readdir(path.join(h.root, 'content/blobs/sha256'))).length, blobsBefore);
});

test('image load rejects what is not an image archive, with a code-bearing error', async (t) => {
  const h = await createHarness(t, { busybox: false });
  const bogus = path.join(h.tmp, 'bogus.tar');
  execFileSync('tar', ['-cf', bogus, '-C', h.tmp, '--files-from', '/dev/null']);
  const r = h.run(['image', 'load', bogus, '--debug']);
  t.is(r.status, 1);
  t.regex(r.stderr, /ERR_TSBUILD_IMAGE_FORMAT/);
});
