import test from 'ava';
import path from 'node:path';
import { openStateRoot } from '../../src/cache/index.js';
import { busyboxTar, createHarness } from '../helpers/tsbuild.js';

test('image import, ls, rm through the CLI; --root selects the state root; errors carry codes', async (t) => {
  const h = await createHarness(t); // imports busybox:latest from a busybox-static rootfs tar
  const other = path.join(h.tmp, 'other-root');
  t.regex(h.ok(['image', 'import', '--root', other, busyboxTar(), '127.0.0.1:5000/bb:t'], { env: { SOURCE_DATE_EPOCH: '0' } }), /^127\.0\.0\.1:5000\/bb:t sha256:[0-9a-f]{64}\n$/);

  const ls = h.ok(['image', 'ls']).trim().split('\n');
  t.deepEqual(ls[0]!.split(/\s+/), ['NAME', 'DIGEST', 'SIZE']);
  t.is(ls.length, 2);
  const [name, digest, size] = ls[1]!.split(/\s+/);
  t.is(name, 'docker.io/library/busybox:latest');
  const state = await openStateRoot({ root: h.root, env: {} });
  const rec = await state.images.get('docker.io/library/busybox:latest');
  t.is(digest, rec!.digest.slice(7, 19));
  t.regex(size!, /^[\d.]+(B|kB|MB)$/);
  // The imported image is a real one: one gzip layer whose diff_id the config records.
  t.true((await state.fsck()).ok);
  // The other root holds only the image imported there.
  t.regex(h.ok(['image', 'ls', '--root', other]), /127\.0\.0\.1:5000\/bb:t/);
  t.notRegex(h.ok(['image', 'ls', '--root', other]), /busybox/);

  t.regex(h.ok(['image', 'rm', 'busybox']), /Untagged: docker.io\/library\/busybox:latest/);
  t.is(h.ok(['image', 'ls']).trim().split('\n').length, 1);
  const missing = h.run(['image', 'rm', 'busybox', '--debug']);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /ERR_TSBUILD_IMAGE_NOT_FOUND/);
  const noFile = h.run(['image', 'import', path.join(h.tmp, 'nope.tar'), 'x', '--debug']);
  t.is(noFile.status, 1);
  t.regex(noFile.stderr, /ERR_TSBUILD_IMAGE_FORMAT/);
});
