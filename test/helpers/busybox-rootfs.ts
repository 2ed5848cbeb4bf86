/**
 * A tiny base root filesystem for tests, built from Debian's busybox-static (/bin/busybox), so
 * no registry is needed. Users: root, nobody, and `app` (uid 1000, group app 1000, supplementary
 * group staff 50). Reuse it from any test that needs a real rootfs.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const BUSYBOX = '/bin/busybox';

/** Populates `dir` (created if missing) with busybox, every applet as a symlink, /etc/passwd and /etc/group. */
export async function createBusyboxRootfs(dir: string): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error('busybox-static is not installed (apt-get install busybox-static)');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'home/app', 'var', 'proc', 'sys', 'dev']) {
    await mkdir(path.join(dir, d), { recursive: true });
  }
  await chmod(dir, 0o755);
  await chmod(path.join(dir, 'tmp'), 0o1777);
  await chmod(path.join(dir, 'root'), 0o700);
  await copyFile(BUSYBOX, path.join(dir, 'bin/busybox'));
  await chmod(path.join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) await symlink('/bin/busybox', path.join(dir, 'bin', a));
  await writeFile(
    path.join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(path.join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n');
  if (process.getuid?.() === 0) await chown(path.join(dir, 'home/app'), 1000, 1000);
  return dir;
}
