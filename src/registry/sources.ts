/**
 * Which repositories a blob is known to be in, remembered across builds (containerd keeps the
 * same as `containerd.io/distribution.source.<host>` labels). Pulls and pushes record them; a
 * later push to the same registry mounts the blob from there instead of uploading it again.
 *
 * One small file per blob under <state root>/registry/sources/<hex>, a `registry/repository`
 * per line, appended with O_APPEND (concurrent builds may both append; duplicates are
 * harmless). It is a hint only: a wrong or stale entry costs one refused mount.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { digestHex, type Digest } from '../util/digest.js';
import type { RepositoryRef } from './client.js';

export interface BlobSources {
  get(digest: Digest): Promise<RepositoryRef[]>;
  add(digest: Digest, ref: RepositoryRef): Promise<void>;
}

export function createBlobSources(stateRoot: string): BlobSources {
  const dir = path.join(stateRoot, 'registry', 'sources');
  let ready: Promise<unknown> | undefined;
  const read = async (digest: Digest): Promise<string[]> =>
    (await readFile(path.join(dir, digestHex(digest)), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return {
    async get(digest) {
      return [...new Set(await read(digest))].map((line) => {
        const slash = line.indexOf('/');
        return { registry: line.slice(0, slash), repository: line.slice(slash + 1) };
      });
    },
    async add(digest, ref) {
      const line = `${ref.registry}/${ref.repository}`;
      if ((await read(digest)).includes(line)) return;
      await (ready ??= mkdir(dir, { recursive: true }));
      await appendFile(path.join(dir, digestHex(digest)), `${line}\n`);
    },
  };
}
