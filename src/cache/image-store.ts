/**
 * Named local images: one small JSON record per name under images/, replaced atomically
 * (temp file + rename), pointing at a manifest blob in the content store.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../util/digest.js';
import type { ImageRecord, ImageStore } from './types.js';

/** The record file of an image name (the record repeats the name: a hash collision reads as absent). */
export const imageRecordFile = (root: string, name: string): string => path.join(root, 'images', `${sha256(name).slice(7, 39)}.json`);

export function createImageStore(root: string): ImageStore {
  const dir = path.join(root, 'images');
  const fileOf = (name: string) => imageRecordFile(root, name);
  return {
    async get(name) {
      try {
        const r = JSON.parse(await readFile(fileOf(name), 'utf8')) as ImageRecord;
        return r.name === name ? r : undefined;
      } catch {
        return undefined;
      }
    },
    async put(record) {
      await mkdir(dir, { recursive: true });
      const file = fileOf(record.name);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, file);
    },
    async delete(name) {
      const file = fileOf(name);
      const had = (await this.get(name)) !== undefined;
      await rm(file, { force: true });
      return had;
    },
    async list() {
      const out: ImageRecord[] = [];
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        if (!n.endsWith('.json')) continue;
        try {
          out.push(JSON.parse(await readFile(path.join(dir, n), 'utf8')) as ImageRecord);
        } catch {
          // a torn temp file never has the .json name; unreadable records are skipped
        }
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}
