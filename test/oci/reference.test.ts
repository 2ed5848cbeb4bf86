import test from 'ava';
import { normalizeReference, parseReference } from '../../src/oci/index.js';

// Expected values follow Docker's distribution/reference normalisation (ParseNormalizedNamed + TagNameOnly).
const normal: Array<[string, string]> = [
  ['busybox', 'docker.io/library/busybox:latest'],
  ['busybox:1', 'docker.io/library/busybox:1'],
  ['library/busybox', 'docker.io/library/busybox:latest'],
  ['org/app:v2', 'docker.io/org/app:v2'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest'],
  ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
  ['localhost/x', 'localhost/x:latest'],
  ['localhost:5000/x', 'localhost:5000/x:latest'],
  ['127.0.0.1:5000/x:t', '127.0.0.1:5000/x:t'],
  ['example.com/a/b/c:1.0-rc_1', 'example.com/a/b/c:1.0-rc_1'],
  ['a__b/c-d.e', 'docker.io/a__b/c-d.e:latest'],
  [`busybox@sha256:${'a'.repeat(64)}`, `docker.io/library/busybox@sha256:${'a'.repeat(64)}`],
  [`busybox:1@sha256:${'b'.repeat(64)}`, `docker.io/library/busybox:1@sha256:${'b'.repeat(64)}`],
];
for (const [input, want] of normal) test(`normalizeReference(${input})`, (t) => t.is(normalizeReference(input), want));

test('parseReference splits registry, repository, tag and digest', (t) => {
  t.deepEqual(parseReference('127.0.0.1:5000/x:t'), { registry: '127.0.0.1:5000', repository: 'x', tag: 't' });
  t.deepEqual(parseReference('busybox'), { registry: 'docker.io', repository: 'library/busybox' });
  // A first component without '.', ':' or 'localhost' is a path component, not a host.
  t.deepEqual(parseReference('myhost/app'), { registry: 'docker.io', repository: 'myhost/app' });
});

const invalid = ['', 'Busybox', 'busybox:', 'busybox:-x', 'a//b', 'a/', '-a', 'a-', 'busybox@sha256:short', `x:${'t'.repeat(129)}`, 'a..b', 'localhost:5000/'];
for (const input of invalid) {
  test(`invalid reference ${JSON.stringify(input)}`, (t) => {
    t.throws(() => parseReference(input), { code: 'ERR_TSBUILD_REFERENCE_INVALID' });
  });
}
