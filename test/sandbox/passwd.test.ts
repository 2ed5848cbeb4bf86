import test from 'ava';
import { resolveUserFrom } from '../../src/util/passwd.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n';
const group = 'root:x:0:\napp:x:1000:\nstaff:x:50:app,web\nwww:x:33:\n';

const CASES: Array<[string, { uid: number; gid: number; additionalGids: number[] }]> = [
  ['root', { uid: 0, gid: 0, additionalGids: [0] }],
  ['app', { uid: 1000, gid: 1000, additionalGids: [1000, 50] }],
  ['1000', { uid: 1000, gid: 1000, additionalGids: [1000, 50] }],
  ['app:staff', { uid: 1000, gid: 50, additionalGids: [] }],
  ['app:33', { uid: 1000, gid: 33, additionalGids: [] }],
  ['4242', { uid: 4242, gid: 0, additionalGids: [] }],
  ['4242:4243', { uid: 4242, gid: 4243, additionalGids: [] }],
  ['web', { uid: 33, gid: 33, additionalGids: [50] }],
];
for (const [spec, want] of CASES) {
  test(`resolves ${spec}`, (t) => t.like(resolveUserFrom(passwd, group, spec), want));
}

test('unknown names are errors, with BuildKit\'s wording', (t) => {
  t.throws(() => resolveUserFrom(passwd, group, 'nobody'), { message: /unable to find user nobody: no matching entries in passwd file/ });
  t.throws(() => resolveUserFrom(passwd, group, 'app:nogroup'), { message: /unable to find group nogroup/ });
  t.notThrows(() => resolveUserFrom(undefined, undefined, '0:0'));
});
