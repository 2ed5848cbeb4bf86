/**
 * A filtered view of the build context: the entries a COPY reads, minus what .dockerignore
 * excludes, as a tree of hard links (copies when the temp dir is on another filesystem).
 * File ops then read an ordinary directory and can never see an ignored file.
 */
import { copyFile, link, mkdir, symlink, chmod, lchown } from 'node:fs/promises';
import path from 'node:path';
import type { ContextEntry } from './checksum.js';

export async function materializeEntries(contextDir: string, entries: ContextEntry[], dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const e of entries) {
    const to = path.join(dest, e.path);
    await mkdir(path.dirname(to), { recursive: true });
    if (e.type === 'dir') {
      await mkdir(to, { recursive: true });
      await chmod(to, e.mode);
      await lchown(to, e.uid, e.gid);
    } else if (e.type === 'symlink') {
      await symlink(e.linkTarget ?? '', to);
    } else if (e.type === 'file') {
      const from = path.join(contextDir, e.path);
      await link(from, to).catch(() => copyFile(from, to));
    }
  }
}
