/**
 * A local cache directory shared by concurrent exports (CI jobs writing their tags into one
 * cache dir): every export's tag survives in index.json.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openCacheLocation } from '../../src/remote-cache/location.js';
import { createRegistryClient } from '../../src/registry/index.js';

test('concurrent exports to one local cache dir keep every tag in index.json', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-cache-dir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const registry = createRegistryClient({});
  const tags = Array.from({ length: 8 }, (_, i) => `job-${i}`);
  await Promise.all(
    tags.map((tag) => openCacheLocation({ type: 'local', dir, tag }, registry).putManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [], tag })), 'application/vnd.oci.image.manifest.v1+json')),
  );
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ annotations: Record<string, string> }> };
  t.deepEqual(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort(), tags);
  // Each tag still reads back its own manifest.
  for (const tag of tags) {
    const m = await openCacheLocation({ type: 'local', dir, tag }, registry).readManifest();
    t.is((JSON.parse(m!.bytes.toString()) as { tag: string }).tag, tag);
  }
});
