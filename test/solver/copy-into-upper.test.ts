/**
 * A COPY whose every new name is new writes into the overlay upper dir directly
 * (solver/ops/copy-into-upper.ts); a COPY that replaces something goes through the overlay mount. Both must make
 * the layer overlayfs would: the directories on the way are copied up with their owner, mode
 * (set-id bits included) and times, and only the directory that gains an entry gets a new mtime.
 */
import test from 'ava';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { execFileSync } from 'node:child_process';
import { createHarness, writeProject, type Harness } from '../helpers/tsbuild.js';

interface Entry {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** The entries of the top layer of an image built with --target `stage`. */
async function topLayer(h: Harness, dir: string, stage: string): Promise<Map<string, Entry>> {
  const out = path.join(h.tmp, `${stage}.tar`);
  h.ok(['build', '--progress=quiet', '--target', stage, '-o', `type=oci,dest=${out}`, dir]);
  const layout = path.join(h.tmp, stage);
  execFileSync('mkdir', ['-p', layout]);
  execFileSync('tar', ['-xf', out, '-C', layout]);
  const blob = (d: string) => path.join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as { layers: Array<{ digest: string }> };
  const entries = new Map<string, Entry>();
  const x = extract();
  x.on('entry', (hd, stream, next) => {
    entries.set(hd.name.replace(/\/$/, ''), { mode: hd.mode ?? 0, uid: hd.uid ?? 0, gid: hd.gid ?? 0, mtime: (hd.mtime?.getTime() ?? 0) / 1000 });
    stream.resume();
    stream.on('end', next);
  });
  await new Promise<void>((resolve, reject) => createReadStream(blob(manifest.layers.at(-1)!.digest)).pipe(createGunzip()).pipe(x).on('finish', resolve).on('error', reject));
  return entries;
}

const OLD = 1_000_000_000;

test('COPY copies up the directories on its way like overlayfs, on the direct path and through the mount', async (t) => {
  const h = await createHarness(t);
  const dir = await writeProject(h, 'ctx', {
    f: 'f\n',
    g: 'g\n',
    Dockerfile: [
      'FROM busybox AS base',
      `RUN mkdir -p /srv/full /srv/empty && echo x > /srv/full/old && echo old > /srv/full/f && chown 5:6 /srv /srv/empty && chmod 2750 /srv && chmod 1777 /srv/empty && touch -d @${OLD} /srv /srv/full /srv/empty`,
      // The destination exists and is empty: written into the upper dir directly.
      'FROM base AS direct',
      'COPY f /srv/empty/',
      // The destination holds a file of that name: through the overlay mount.
      'FROM base AS mounted',
      'COPY f /srv/full/',
      // The destination holds other files only: direct.
      'FROM base AS beside',
      'COPY g /srv/full/',
      // New directories under an existing one: direct, and /srv is the directory that gains an entry.
      'FROM base AS deeper',
      'COPY --chown=7:8 f /srv/new/deep/',
      '',
    ].join('\n'),
  });

  const direct = await topLayer(h, dir, 'direct');
  t.deepEqual([...direct.keys()].sort(), ['srv', 'srv/empty', 'srv/empty/f']);
  t.like(direct.get('srv'), { mode: 0o2750, uid: 5, gid: 6, mtime: OLD }, 'a copied-up parent keeps its metadata and time');
  t.like(direct.get('srv/empty'), { mode: 0o1777, uid: 5, gid: 6 });
  t.not(direct.get('srv/empty')!.mtime, OLD, 'the directory that gained an entry has a new mtime');
  t.like(direct.get('srv/empty/f'), { uid: 0, gid: 0 });

  const mounted = await topLayer(h, dir, 'mounted');
  t.deepEqual([...mounted.keys()].sort(), ['srv', 'srv/full', 'srv/full/f']);
  t.like(mounted.get('srv'), { mode: 0o2750, uid: 5, gid: 6, mtime: OLD });
  t.not(mounted.get('srv/full')!.mtime, OLD);

  const beside = await topLayer(h, dir, 'beside');
  t.deepEqual([...beside.keys()].sort(), ['srv', 'srv/full', 'srv/full/g']);
  t.like(beside.get('srv'), { mode: 0o2750, uid: 5, gid: 6, mtime: OLD });
  t.not(beside.get('srv/full')!.mtime, OLD);

  const deeper = await topLayer(h, dir, 'deeper');
  t.deepEqual([...deeper.keys()].sort(), ['srv', 'srv/new', 'srv/new/deep', 'srv/new/deep/f']);
  t.like(deeper.get('srv'), { mode: 0o2750, uid: 5, gid: 6 });
  t.not(deeper.get('srv')!.mtime, OLD);
  // A directory made under a set-group-ID one keeps that bit, as with BuildKit (fixtures/compat/copy-into-existing).
  t.like(deeper.get('srv/new'), { mode: 0o2755, uid: 7, gid: 8 });
  t.like(deeper.get('srv/new/deep/f'), { uid: 7, gid: 8 });
});

test('the direct path reads the layers as overlayfs merges them: whiteouts and opaque directories hide what lies below', async (t) => {
  const h = await createHarness(t);
  const dir = await writeProject(h, 'ctx', {
    f: 'f\n',
    old: 'new content\n',
    Dockerfile: [
      'FROM busybox AS base',
      `RUN mkdir -p /srv/d && echo x > /srv/d/old && chown 5:6 /srv/d && chmod 2750 /srv/d && touch -d @${OLD} /srv/d`,
      // /srv is deleted and made again: opaque in this layer, so the lower /srv/d is gone.
      'FROM base AS remade',
      'RUN rm -rf /srv && mkdir /srv',
      'COPY f /srv/d/',
      // /srv/d is deleted: a whiteout, so the copy makes a new /srv/d.
      'FROM base AS whited',
      'RUN rm -rf /srv/d',
      'COPY f /srv/d/',
      // A name deleted below is free again: written beside nothing, with the new content.
      'FROM base AS renamed',
      'RUN rm /srv/d/old',
      'COPY old /srv/d/',
      '',
    ].join('\n'),
  });

  for (const stage of ['remade', 'whited']) {
    const top = await topLayer(h, dir, stage);
    t.true(top.has('srv/d/f'), stage);
    // Made by the copy, not copied up from the hidden /srv/d (2750, 5:6).
    t.like(top.get('srv/d'), { mode: 0o755, uid: 0, gid: 0 }, stage);
    t.not(top.get('srv/d')!.mtime, OLD, stage);
  }

  const out = path.join(h.tmp, 'renamed-fs');
  h.ok(['build', '--progress=quiet', '--target', 'renamed', '-o', `type=local,dest=${out}`, dir]);
  t.is(await readFile(path.join(out, 'srv/d/old'), 'utf8'), 'new content\n');
  const top = await topLayer(h, dir, 'renamed');
  t.like(top.get('srv/d'), { mode: 0o2750, uid: 5, gid: 6 }, 'the existing /srv/d is copied up');
});
