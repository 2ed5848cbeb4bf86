/**
 * Replacing a small state file so that a reader sees the old content or the new, never part of
 * one, and a writer killed midway leaves at most a `<file>.<pid>-<n>.tmp` beside it. The pid and
 * a counter keep concurrent writers apart (other processes, or this one writing twice at once)
 * without node:crypto; node:fs/promises is reached only when the async form runs. Both matter to
 * the up-to-date check (cli/up-to-date.ts), which writes with the sync form and loads neither.
 */
import fs from 'node:fs';
import path from 'node:path';

let written = 0;
const tempFor = (file: string): string => `${file}.${process.pid}-${++written}.tmp`;

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const { mkdir, rename, rm, writeFile } = fs.promises;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempFor(file);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempFor(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
