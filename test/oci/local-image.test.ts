import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateRoot } from '../../src/cache/index.js';
import { jsonBytes, MediaTypes, resolveLocalImage, storeImage, type ImageConfig, type ImageIndex } from '../../src/oci/index.js';
import { sha256 } from '../../src/util/digest.js';

test('resolveLocalImage picks the platform from an index; unknown names are undefined', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-local-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const state = await openStateRoot({ root: dir, env: {} });
  const mk = async (architecture: string) => {
    const layer = await state.content.writeBytes(`layer for ${architecture}`);
    const config: ImageConfig = { architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(architecture)] }, config: {} };
    return (await storeImage(state.content, config, [{ mediaType: MediaTypes.ociLayer, digest: layer.digest, size: layer.size }])).manifest;
  };
  const amd = await mk('amd64');
  const arm = await mk('arm64');
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      { ...arm, platform: { os: 'linux', architecture: 'arm64' } },
      { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  };
  const idx = await state.content.writeBytes(jsonBytes(index));
  await state.images.put({ name: 'localhost:5000/multi:1', digest: idx.digest, mediaType: MediaTypes.ociIndex, updated: new Date(0).toISOString() });

  const onAmd = await resolveLocalImage(state.content, state.images, 'localhost:5000/multi:1', { os: 'linux', architecture: 'amd64' });
  t.is(onAmd?.manifestDigest, amd.digest);
  t.is(onAmd?.config.architecture, 'amd64');
  t.is(onAmd?.record.digest, idx.digest);
  const onArm = await resolveLocalImage(state.content, state.images, 'localhost:5000/multi:1', { os: 'linux', architecture: 'arm64' });
  t.is(onArm?.manifestDigest, arm.digest);
  await t.throwsAsync(resolveLocalImage(state.content, state.images, 'localhost:5000/multi:1', { os: 'linux', architecture: 's390x' }), { code: 'ERR_TSBUILD_REGISTRY_NO_PLATFORM' });
  t.is(await resolveLocalImage(state.content, state.images, 'localhost:5000/multi:2'), undefined);
});
