/**
 * Resolves a RUN's user against the input filesystem without mounting it: /etc/passwd and
 * /etc/group are looked up through the layer dirs top-down, honouring overlay whiteouts.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveUserFrom, type ResolvedUser } from '../../util/passwd.js';

/**
 * Reads `rel` from the topmost layer that has it; undefined when absent or whited out.
 * Synchronous: a lookup per layer dir for two small files, on every RUN step.
 */
export async function readLayeredFile(lowerTopFirst: string[], rel: string): Promise<string | undefined> {
  for (const dir of lowerTopFirst) {
    const file = path.join(dir, rel);
    let st;
    try {
      st = lstatSync(file, { throwIfNoEntry: false });
    } catch {
      st = undefined; // ENOTDIR: a file stands where a parent would be
    }
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined; // overlay whiteout
    return st.isFile() ? readFileSync(file, 'utf8') : undefined;
  }
  return undefined;
}

export async function resolveUserInLayers(lowerTopFirst: string[], userSpec: string): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readLayeredFile(lowerTopFirst, 'etc/passwd'), readLayeredFile(lowerTopFirst, 'etc/group')]);
  return resolveUserFrom(passwd, group, userSpec === '' ? 'root' : userSpec);
}
