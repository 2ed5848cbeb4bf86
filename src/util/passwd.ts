/**
 * User and group resolution against a root filesystem's /etc/passwd and /etc/group (never the
 * host's), as BuildKit resolves USER and --chown: a name or uid, optionally `:group` or `:gid`;
 * supplementary groups from /etc/group membership.
 */
import { lstat, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors/index.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** Resolves from file contents (undefined = the file does not exist). */
export function resolveUserFrom(passwd: string | undefined, group: string | undefined, spec: string): ResolvedUser {
  const [userPart, groupPart] = spec.includes(':') ? [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)] : [spec, undefined];
  const users = parsePasswd(passwd ?? '');
  const groups = parseGroup(group ?? '');
  let uid: number;
  let gid: number;
  let name: string | undefined;
  let home: string | undefined;
  const byName = users.find((u) => u.name === userPart);
  const numeric = /^\d+$/.test(userPart);
  if (byName) {
    ({ uid, gid, name, home } = byName);
  } else if (numeric) {
    uid = Number(userPart);
    const entry = users.find((u) => u.uid === uid);
    gid = entry?.gid ?? uid;
    name = entry?.name;
    home = entry?.home;
    if (!entry) gid = 0;
  } else {
    throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `unable to find user ${userPart}: no matching entries in passwd file`);
  }
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const g = groups.find((x) => x.name === groupPart);
    if (g) gid = g.gid;
    else if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `unable to find group ${groupPart}: no matching entries in group file`);
  } else if (name !== undefined) {
    // Without an explicit group: the groups that list the user as a member (a group merely named
    // like the user does not count).
    additionalGids = groups.filter((g) => g.members.includes(name!)).map((g) => g.gid);
  }
  // The primary gid is always a supplementary group too, as runc sets them up under BuildKit
  // (Docker 26 lab: `USER nobody` -> Groups 65534, `USER 1234:2345` -> 2345, `USER 4242` -> 0).
  if (!additionalGids.includes(gid)) additionalGids.unshift(gid);
  return { uid, gid, additionalGids, ...(home ? { home } : {}) };
}

/**
 * Reads `rel` inside `rootDir` the way the container would see it: symlinks (also absolute ones
 * and `..`) are resolved against `rootDir`, never against the host's `/`, so a hostile image whose
 * /etc/passwd links to the host's file reads a path inside the rootfs. Undefined when missing.
 */
export async function readFileInRoot(rootDir: string, rel: string): Promise<string | undefined> {
  const pending = rel.split('/').filter(Boolean);
  const done: string[] = [];
  for (let links = 0; pending.length > 0; ) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop(); // clamped at the root, as the kernel does at a chroot's /
      continue;
    }
    const host = path.join(rootDir, ...done, part);
    const st = await lstat(host).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++links > 40) return undefined; // ELOOP
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return readFile(path.join(rootDir, ...done), 'utf8').catch(() => undefined);
}

/** Resolves `spec` in the rootfs at `rootDir` (its /etc files are read inside it; no symlink leads out). */
export async function resolveUser(rootDir: string, spec: string): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readFileInRoot(rootDir, 'etc/passwd'), readFileInRoot(rootDir, 'etc/group')]);
  return resolveUserFrom(passwd, group, spec === '' ? 'root' : spec);
}

/** A group name or gid resolved in the rootfs's /etc/group (for `--chown=:group`). */
export async function resolveGroup(rootDir: string, spec: string): Promise<number> {
  if (/^\d+$/.test(spec)) return Number(spec);
  const g = parseGroup((await readFileInRoot(rootDir, 'etc/group')) ?? '').find((x) => x.name === spec);
  if (!g) throw new TsbuildError('ERR_TSBUILD_SANDBOX_SETUP', `unable to find group ${spec}: no matching entries in group file`);
  return g.gid;
}
