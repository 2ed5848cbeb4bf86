import test from 'ava';
import { resolveUserFrom } from '../../src/util/passwd.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nweb:x:33:33::/var/www:/bin/false\nnob:x:65534:65534::/:/bin/false\n';
const group = 'root:x:0:\napp:x:1000:\nstaff:x:50:app,web,nob\nwww:x:33:\nnob:x:777:\n';

const CASES: Array<[string, { uid: number; gid: number; additionalGids: number[] }]> = [
  ['root', { uid: 0, gid: 0, additionalGids: [0] }],
  ['app', { uid: 1000, gid: 1000, additionalGids: [1000, 50] }],
  ['1000', { uid: 1000, gid: 1000, additionalGids: [1000, 50] }],
  // The primary gid is always among the groups; an explicit group drops the memberships (Docker 26 lab).
  ['app:staff', { uid: 1000, gid: 50, additionalGids: [50] }],
  ['app:33', { uid: 1000, gid: 33, additionalGids: [33] }],
  ['4242', { uid: 4242, gid: 0, additionalGids: [0] }],
  ['4242:4243', { uid: 4242, gid: 4243, additionalGids: [4243] }],
  ['web', { uid: 33, gid: 33, additionalGids: [33, 50] }],
  // A group named like the user is not a membership (lab: `nobody` with a `nobody:x:777:` group -> 50 65534).
  ['nob', { uid: 65534, gid: 65534, additionalGids: [65534, 50] }],
];
for (const [spec, want] of CASES) {
  test(`resolves ${spec}`, (t) => t.like(resolveUserFrom(passwd, group, spec), want));
}

test('unknown names are errors, with BuildKit\'s wording', (t) => {
  t.throws(() => resolveUserFrom(passwd, group, 'nobody'), { message: /unable to find user nobody: no matching entries in passwd file/ });
  t.throws(() => resolveUserFrom(passwd, group, 'app:nogroup'), { message: /unable to find group nogroup/ });
  t.notThrows(() => resolveUserFrom(undefined, undefined, '0:0'));
});

test('resolveUser reads the rootfs files; symlinks to the host stay inside the rootfs', async (t) => {
  const { mkdtemp, mkdir, rm, symlink, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { resolveUser, resolveGroup } = await import('../../src/util/passwd.js');
  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-passwd-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'etc'));
  await mkdir(path.join(root, 'data'));
  await writeFile(path.join(root, 'data/pw'), 'root:x:0:0::/root:/bin/sh\nzed:x:777:778::/z:/bin/sh\n');
  // Absolute and ../ links are resolved against the rootfs, as the container sees them.
  await symlink('/../../data/pw', path.join(root, 'etc/passwd'));
  await writeFile(path.join(root, 'etc/group'), 'zed:x:778:\nops:x:900:zed\n');
  t.like(await resolveUser(root, 'zed'), { uid: 777, gid: 778, additionalGids: [778, 900], home: '/z' });
  t.is(await resolveGroup(root, 'ops'), 900);
  t.is(await resolveGroup(root, '12'), 12);
  await t.throwsAsync(resolveGroup(root, 'nope'), { code: 'ERR_TSBUILD_SANDBOX_SETUP' });
  // A link to the host's /etc/passwd reads the rootfs's own (missing) file: host users are not found.
  await rm(path.join(root, 'etc/passwd'));
  await symlink('/etc/passwd', path.join(root, 'etc/passwd'));
  await rm(path.join(root, 'etc/group'));
  await symlink('/etc/group', path.join(root, 'etc/group'));
  await t.throwsAsync(resolveUser(root, 'root'), { code: 'ERR_TSBUILD_SANDBOX_SETUP' });
});
