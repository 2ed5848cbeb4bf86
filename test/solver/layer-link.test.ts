/**
 * COPY --from another stage hard-links the inodes of that stage's layer dirs when the copy keeps
 * every attribute (solver/ops/layer-link.ts), and copies when --chown or --chmod changes one: the
 * image is the same either way, and the source layer is never touched.
 */
import test from 'ava';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness, writeProject } from '../helpers/tsbuild.js';

/** Every path under `dir` named `rel` (layer dirs of the state root). */
async function findAll(dir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const layer of await readdir(dir)) {
    const p = path.join(dir, layer, rel);
    if (await lstat(p).then(() => true, () => false)) out.push(p);
  }
  return out;
}

test('COPY --from links the file the stage shows (its top layer\'s inode) once; --chown, --chmod, a second name and a source below the destination copy; the source layers keep their content', async (t) => {
  const h = await createHarness(t);
  const dir = await writeProject(h, 'ctx', {
    Dockerfile: [
      'FROM busybox AS build',
      'RUN mkdir /out && echo old > /out/c && echo a > /out/a && echo gone > /out/gone',
      // A higher layer replaces c and deletes gone: the copy must take the top version.
      'RUN echo new > /out/c && rm /out/gone && echo b > /out/b && chown 7:8 /out/b && chmod 640 /out/b && echo k > /k',
      'FROM busybox AS final',
      'COPY --from=build /out/ /app/',
      'COPY --from=build --chmod=600 /out/a /chmodded',
      'COPY --from=build --chown=9:9 /out/a /chowned',
      // Linked once already: a second name would make the two one hard-linked file.
      'COPY --from=build /out/a /again',
      // The source's layer lies below the destination: both names would be in one view.
      'FROM build AS stacked',
      'COPY --from=build /k /k-again',
    ].join('\n'),
  });
  const local = path.join(h.tmp, 'out');
  h.ok(['build', '--progress=quiet', '--target', 'final', '-o', `type=local,dest=${local}`, dir]);
  t.is(await readFile(path.join(local, 'app/c'), 'utf8'), 'new\n');
  t.false(await lstat(path.join(local, 'app/gone')).then(() => true, () => false));
  const b = await lstat(path.join(local, 'app/b'));
  t.deepEqual([b.uid, b.gid, b.mode & 0o777], [7, 8, 0o640]);
  t.is((await lstat(path.join(local, 'chmodded'))).mode & 0o777, 0o600);
  t.deepEqual([(await lstat(path.join(local, 'chowned'))).uid, (await lstat(path.join(local, 'chowned'))).gid], [9, 9]);

  const layers = path.join(h.root, 'snapshots', 'layers');
  // out/c exists in two build layers (old, new); app/c in the final stage's layer.
  const sources = await Promise.all((await findAll(layers, 'out/c')).map(async (p) => ({ p, st: await lstat(p), text: await readFile(p, 'utf8') })));
  t.deepEqual(sources.map((s) => s.text).sort(), ['new\n', 'old\n'], 'both versions of c stay in their layers');
  const [copied] = await findAll(layers, 'app/c');
  const top = sources.find((s) => s.text === 'new\n')!;
  t.is((await lstat(copied!)).ino, top.st.ino, 'app/c is the top layer\'s inode');
  t.is(top.st.nlink, 2);
  const [a] = await findAll(layers, 'out/a');
  const aIno = (await lstat(a!)).ino;
  t.is((await lstat((await findAll(layers, 'app/a'))[0]!)).ino, aIno);
  for (const changed of ['chmodded', 'chowned', 'again']) {
    const [p] = await findAll(layers, changed);
    t.not((await lstat(p!)).ino, aIno, `${changed} is a copy`);
  }
  // Built on its own: /out/c of the build stage is below the copy, which must not share its inode.
  h.ok(['build', '--progress=quiet', '--target', 'stacked', dir]);
  const [k] = await findAll(layers, 'k');
  const [kAgain] = await findAll(layers, 'k-again');
  t.not((await lstat(kAgain!)).ino, (await lstat(k!)).ino, 'k-again is a copy');
  t.is((await lstat(k!)).nlink, 1);
  // The source kept its own attributes though its copies changed theirs.
  const aSt = await lstat(a!);
  t.deepEqual([aSt.uid, aSt.mode & 0o777], [0, 0o644]);
});
