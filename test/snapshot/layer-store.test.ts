import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { createContentStore } from '../../src/cache/index.js';
import { compressLayer, unpackLayer, writeLayerToStore } from '../../src/snapshot/index.js';

async function rawTar(): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'dir/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry({ name: 'dir/big', mode: 0o644, mtime: new Date(0) }, Buffer.alloc(200_000, 'ab'));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

for (const [compression, mediaType, decode] of [
  ['gzip', 'application/vnd.oci.image.layer.v1.tar+gzip', ['gzip', '-dc']],
  ['zstd', 'application/vnd.oci.image.layer.v1.tar+zstd', ['zstd', '-dc']],
  ['none', 'application/vnd.oci.image.layer.v1.tar', ['cat']],
] as const) {
  test(`writeLayerToStore ${compression}: diff_id, blob digest and size are those of the bytes`, async (t) => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ls-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const store = createContentStore(root);
    const raw = await rawTar();
    const r = await writeLayerToStore(store, Readable.from([raw]), compression);
    const blob = await readFile(store.blobPath(r.digest));
    t.is(r.digest as string, sha(blob));
    t.is(r.size, blob.length);
    t.is(r.mediaType, mediaType);
    t.is(r.diffId as string, sha(raw));
    t.is(r.diffSize, raw.length);
    // The standard tools decode it back to the same tar.
    t.true(execFileSync(decode[0], decode.slice(1), { input: blob, maxBuffer: 1 << 26 }).equals(raw));
    t.is((await unpackLayer(Readable.from([blob]), path.join(root, 'u'))).diffId, r.diffId);
    // compressLayer on its own reports the same numbers while streaming.
    const c = compressLayer(Readable.from([raw]), compression);
    const chunks: Buffer[] = [];
    for await (const x of c.stream) chunks.push(x as Buffer);
    const done = await c.done;
    t.is(done.digest as string, sha(Buffer.concat(chunks)));
    t.is(done.diffId, r.diffId);
  });
}
