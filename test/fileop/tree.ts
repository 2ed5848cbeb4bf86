/** Test helpers: build a directory tree from a spec and read one back as comparable data. */
import { chown, chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, utimes, writeFile, lutimes, lchown } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** One entry of a spec: `f` file, `d` dir, `l` symlink. */
export type Entry =
  | { t: 'f'; data?: string; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { t: 'd'; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { t: 'l'; target: string; uid?: number; gid?: number };

export type Tree = Record<string, Entry>;

export const T2020 = Date.UTC(2020, 0, 1) / 1000;

export async function makeTree(dir: string, tree: Tree): Promise<void> {
  const dirs: Array<[string, Entry]> = [];
  for (const [p, e] of Object.entries(tree).sort(([a], [b]) => a.localeCompare(b))) {
    const host = path.join(dir, p);
    await mkdir(path.dirname(host), { recursive: true });
    if (e.t === 'd') {
      await mkdir(host, { recursive: true });
      dirs.push([host, e]);
    } else if (e.t === 'f') {
      await writeFile(host, e.data ?? p);
      await chown(host, e.uid ?? 0, e.gid ?? 0);
      await chmod(host, e.mode ?? 0o644);
      await utimes(host, e.mtime ?? T2020, e.mtime ?? T2020);
    } else {
      await symlink(e.target, host);
      await lchown(host, e.uid ?? 0, e.gid ?? 0);
      await lutimes(host, T2020, T2020);
    }
  }
  for (const [host, e] of dirs.reverse()) {
    if (e.t !== 'd') continue;
    await chown(host, e.uid ?? 0, e.gid ?? 0);
    await chmod(host, e.mode ?? 0o755);
    await utimes(host, e.mtime ?? T2020, e.mtime ?? T2020);
  }
}

/** A tree as data: "path": "f 644 0:0 <data>", "d 755 0:0", "l -> target". */
export async function readTree(dir: string, opts: { mtime?: boolean } = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(path.join(dir, r));
      const own = `${st.uid}:${st.gid}`;
      const mode = (st.mode & 0o7777).toString(8);
      const mt = opts.mtime ? ` @${Math.floor(st.mtimeMs / 1000) === T2020 ? '2020' : 'other'}` : '';
      if (st.isDirectory()) {
        out[r] = `d ${mode} ${own}${mt}`;
        await walk(r);
      } else if (st.isSymbolicLink()) out[r] = `l ${own} -> ${await readlink(path.join(dir, r))}`;
      else out[r] = `f ${mode} ${own} ${await readFile(path.join(dir, r), 'utf8')}${mt}`;
    }
  }
  await walk('');
  return out;
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `tsbuild-fileop-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
