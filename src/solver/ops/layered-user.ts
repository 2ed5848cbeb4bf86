/**
 * Resolves a RUN's user against the input filesystem without mounting it: /etc/passwd and
 * /etc/group are looked up through the layer dirs top-down, honouring overlay whiteouts.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveUserFrom, type ResolvedUser } from '../../util/passwd.js';

/** Reads `rel` from the topmost layer that has it; undefined when absent or whited out. */
export async function readLayeredFile(lowerTopFirst: string[], rel: string): Promise<string | undefined> {
  for (const dir of lowerTopFirst) {
    const file = path.join(dir, rel);
    const st = await lstat(file).catch(() => undefined);
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined; // overlay whiteout
    return st.isFile() ? readFile(file, 'utf8') : undefined;
  }
  return undefined;
}

export async function resolveUserInLayers(lowerTopFirst: string[], userSpec: string): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readLayeredFile(lowerTopFirst, 'etc/passwd'), readLayeredFile(lowerTopFirst, 'etc/group')]);
  return resolveUserFrom(passwd, group, userSpec === '' ? 'root' : userSpec);
}
