import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHarness, executed } from '../helpers/tsbuild.js';

test('fixtures/hello builds; skopeo, umoci and podman read the result', async (t) => {
  const h = await createHarness(t);
  const dir = await h.fixture('hello');
  const oci = path.join(h.tmp, 'hello-oci.tar');
  const docker = path.join(h.tmp, 'hello-docker.tar');
  const meta = path.join(h.tmp, 'meta.json');
  h.ok(['build', '--progress=plain', '-t', 'tsbuild-e2e/hello:1', '-o', `type=oci,dest=${oci}`, '-o', `type=docker,dest=${docker}`, '--metadata-file', meta, dir]);

  const m = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${oci}`], { encoding: 'utf8' })) as { Digest: string; Env: string[]; Labels: Record<string, string> };
  t.is(inspect.Digest, m['containerimage.digest'] ?? '');
  t.true(inspect.Env.includes('GREETING_FILE=/srv/shout.txt'));
  t.is(inspect.Labels['org.opencontainers.image.title'], 'tsbuild hello');
  const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci-archive:${oci}`], { encoding: 'utf8' })) as { config: { User: string; Cmd: string[] }; rootfs: { diff_ids: string[] } };
  t.is(config.config.User, 'app');
  t.is(config.rootfs.diff_ids.length, 2);

  const layout = path.join(h.tmp, 'layout');
  execFileSync('mkdir', ['-p', layout]);
  execFileSync('tar', ['-xf', oci, '-C', layout]);
  const bundle = path.join(h.tmp, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:1`, bundle]);
  t.is(await readFile(path.join(bundle, 'rootfs', 'srv', 'shout.txt'), 'utf8'), 'HELLO FROM TSBUILD\n');
  t.is((await readFile(path.join(bundle, 'rootfs', 'srv', 'size.txt'), 'utf8')).trim(), '19');

  const podman = podmanEnv(h.tmp);
  await writePodmanConfig(h.tmp);
  t.teardown(() => {
    spawnSync('podman', ['rmi', '-f', 'tsbuild-e2e/hello:1'], { env: podman });
  });
  const load = spawnSync('podman', ['load', '-i', docker], { env: podman, encoding: 'utf8' });
  t.is(load.status, 0, load.stderr);
  const out = spawnSync('podman', ['run', '--rm', 'tsbuild-e2e/hello:1'], { env: podman, encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  t.is(out.stdout, 'HELLO FROM TSBUILD\n(19 bytes)\n');
});

function podmanEnv(tmp: string): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF: path.join(tmp, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(tmp, 'storage.conf'), CONTAINERS_REGISTRIES_CONF: path.join(tmp, 'registries.conf') };
}

/** podman here needs runc, cgroupfs, the file events logger and no network (see ../shared/peers). */
async function writePodmanConfig(tmp: string): Promise<void> {
  await writeFile(path.join(tmp, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${tmp}/podman-run"\ngraphroot = "${tmp}/podman-storage"\n`);
  await writeFile(path.join(tmp, 'registries.conf'), 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n');
  await writeFile(
    path.join(tmp, 'containers.conf'),
    '[containers]\nnetns = "none"\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[network]\n',
  );
}

test('cache: a second build runs no RUN; editing one file re-runs only what reads it; touch re-runs nothing', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  execFileSync('mkdir', ['-p', dir]);
  await writeFile(path.join(dir, 'a.txt'), 'a\n');
  await writeFile(path.join(dir, 'b.txt'), 'b\n');
  await writeFile(
    path.join(dir, 'Dockerfile'),
    'FROM busybox\nRUN echo base > /base\nCOPY a.txt /a.txt\nRUN cat /a.txt > /a.copy\nCOPY b.txt /b.txt\nRUN cat /b.txt > /b.copy\n',
  );
  const iid = path.join(h.tmp, 'iid');
  const build = () => h.run(['build', '--progress=rawjson', '--iidfile', iid, dir]);
  const first = build();
  t.is(first.status, 0, first.stderr);
  t.is(executed(first.stderr).filter((n) => n.includes('RUN')).length, 3);
  const firstId = await readFile(iid, 'utf8');

  const second = build();
  t.is(second.status, 0, second.stderr);
  t.deepEqual(executed(second.stderr), []);
  t.is(await readFile(iid, 'utf8'), firstId, 'a fully cached rebuild gives the same image');

  const later = new Date(Date.now() + 60_000);
  await utimes(path.join(dir, 'a.txt'), later, later);
  const touched = build();
  t.deepEqual(executed(touched.stderr), [], 'mtime alone busts nothing');

  await writeFile(path.join(dir, 'b.txt'), 'b changed\n');
  const edited = build();
  t.is(edited.status, 0, edited.stderr);
  t.deepEqual(
    executed(edited.stderr).map((n) => n.replace(/^\[[^\]]+\] /, '')),
    ['COPY b.txt /b.txt', 'RUN cat /b.txt > /b.copy'],
  );
});

test('COPY reads the context in place where it can: context files keep their ctime (the stat cache stays valid); ignored files stay out; xattrs come along', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  execFileSync('mkdir', ['-p', path.join(dir, 'app/sub'), path.join(dir, 'conf'), path.join(dir, 'node_modules/dep')]);
  await writeFile(path.join(dir, 'app/a.txt'), 'a\n');
  await writeFile(path.join(dir, 'app/sub/b.txt'), 'b\n', { mode: 0o750 });
  await writeFile(path.join(dir, 'conf/settings'), 's\n');
  await writeFile(path.join(dir, 'conf/secret.txt'), 'no\n');
  await writeFile(path.join(dir, 'node_modules/dep/index.js'), 'x\n');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', path.join(dir, 'conf/settings')]);
  await writeFile(path.join(dir, '.dockerignore'), 'conf/secret.txt\nnode_modules\n');
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY app /app\nCOPY conf/ /conf/\nCOPY . /all/\n');
  const files = ['app/a.txt', 'app/sub/b.txt', 'conf/settings', 'Dockerfile'];
  const ctimes = async () => Promise.all(files.map(async (f) => (await stat(path.join(dir, f), { bigint: true })).ctimeNs));
  const before = await ctimes();
  const out = path.join(h.tmp, 'out.tar');
  h.ok(['build', '-q', '-o', `type=tar,dest=${out}`, dir]);
  t.deepEqual(await ctimes(), before, 'a hard-linked view would have moved the ctimes');
  const entries = new Map<string, { mode?: number; pax?: Record<string, string> }>();
  const { extract } = await import('tar-stream');
  const x = extract();
  x.on('entry', (header, stream, next) => {
    entries.set(header.name.replace(/^\.?\//, '').replace(/\/$/, ''), { ...(header.mode !== undefined ? { mode: header.mode } : {}), ...(header.pax ? { pax: header.pax as Record<string, string> } : {}) });
    stream.resume();
    stream.on('end', next);
  });
  const { createReadStream } = await import('node:fs');
  await new Promise<void>((resolve, reject) => createReadStream(out).pipe(x).on('finish', () => resolve()).on('error', reject));
  t.is(entries.get('app/sub/b.txt')?.mode! & 0o777, 0o750);
  for (const p of ['conf/settings', 'all/conf/settings']) t.is(entries.get(p)?.pax?.['SCHILY.xattr.user.note'], 'kept', p);
  for (const p of ['conf/secret.txt', 'all/conf/secret.txt', 'all/node_modules', 'all/node_modules/dep/index.js']) t.false(entries.has(p), `${p} is ignored`);
  t.true(entries.has('all/app/a.txt') && entries.has('all/Dockerfile'));
});

test('a failing RUN names its Dockerfile line, exit code and output, and exits 1', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'fail');
  execFileSync('mkdir', ['-p', dir]);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo first\nRUN echo about to fail >&2; exit 3\n');
  const r = h.run(['build', '--progress=plain', dir]);
  t.is(r.status, 1);
  t.regex(r.stderr, /Dockerfile:3: .*exit code: 3/);
  t.regex(r.stderr, /about to fail/);
  t.false(r.stderr.includes('    at '), 'no stack trace');
});

test('reproducible: SOURCE_DATE_EPOCH + rewrite-timestamp give identical tarballs from two fresh state roots', async (t) => {
  const digests: string[] = [];
  const bytes: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    const h = await createHarness(t);
    const dir = await h.fixture('hello');
    const out = path.join(h.tmp, 'out.tar');
    h.ok(['build', '--progress=quiet', '-o', `type=oci,dest=${out},rewrite-timestamp=true`, '--metadata-file', path.join(h.tmp, 'm.json'), dir], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    digests.push((JSON.parse(await readFile(path.join(h.tmp, 'm.json'), 'utf8')) as Record<string, string>)['containerimage.digest']!);
    bytes.push(await readFile(out));
  }
  t.is(digests[0], digests[1]);
  t.true(bytes[0]!.equals(bytes[1]!));
});

test('SOURCE_DATE_EPOCH as a build arg (as BuildKit takes it) sets the image and new history times', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'sde');
  execFileSync('mkdir', ['-p', dir]);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo $SOURCE_DATE_EPOCH > /sde\nENV X=1\n');
  const out = path.join(h.tmp, 'sde.tar');
  h.ok(['build', '--progress=quiet', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000', '-o', `type=oci,dest=${out}`, dir], { env: { SOURCE_DATE_EPOCH: '' } });
  const x = path.join(h.tmp, 'sde-x');
  execFileSync('mkdir', ['-p', x]);
  execFileSync('tar', ['-C', x, '-xf', out]);
  const blob = async (d: string) => JSON.parse(await readFile(path.join(x, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const index = JSON.parse(await readFile(path.join(x, 'index.json'), 'utf8'));
  const config = await blob((await blob(index.manifests[0].digest)).config.digest);
  t.is(config.created, '2023-11-14T22:13:20Z');
  // Docker 26 lab: every entry the build adds (ARG, RUN, ENV) has the epoch; the base's keep theirs.
  t.deepEqual(config.history.slice(-3).map((e: { created: string }) => e.created), Array(3).fill('2023-11-14T22:13:20Z'));
});

test('a proxy build arg in either spelling reaches RUN in both (HTTP_PROXY and http_proxy), as BuildKit sets them', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proxy');
  execFileSync('mkdir', ['-p', dir]);
  await writeFile(path.join(dir, 'Dockerfile'), "FROM busybox\nRUN env | grep -i -E '^(http|https|no)_proxy=' | sort > /seen\n");
  const out = path.join(h.tmp, 'proxy-out');
  h.ok(['build', '--progress=quiet', '--network=none', '--build-arg', 'HTTP_PROXY=http://p:1', '--build-arg', 'no_proxy=localhost', '-o', `type=local,dest=${out}`, dir]);
  t.is(await readFile(path.join(out, 'seen'), 'utf8'), 'HTTP_PROXY=http://p:1\nNO_PROXY=localhost\nhttp_proxy=http://p:1\nno_proxy=localhost\n');
});

test('parallel stages overlap in time (from progress events)', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'par');
  execFileSync('mkdir', ['-p', dir]);
  await writeFile(
    path.join(dir, 'Dockerfile'),
    'FROM busybox AS one\nRUN sleep 1 && echo one > /one\nFROM busybox AS two\nRUN sleep 1 && echo two > /two\nFROM busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n',
  );
  const r = h.run(['build', '--progress=rawjson', '--jobs', '2', dir]);
  t.is(r.status, 0, r.stderr);
  const evs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; vertex: string; name?: string; time: number });
  const span = (stage: string) => {
    const start = evs.find((e) => e.type === 'vertex.start' && e.name?.startsWith(`[${stage} `) && e.name.includes('RUN'))!;
    const end = evs.find((e) => e.type === 'vertex.end' && e.vertex === start.vertex)!;
    return [start.time, end.time] as const;
  };
  const [a0, a1] = span('one');
  const [b0, b1] = span('two');
  t.true(a1 - a0 >= 1000 && b1 - b0 >= 1000);
  t.true(a0 < b1 && b0 < a1, `one ${a0}-${a1} and two ${b0}-${b1} overlap`);
});

test('exporter options are validated before the build starts', async (t) => {
  const h = await createHarness(t, { busybox: false });
  const dir = await h.fixture('hello');
  const r = h.run(['build', '-o', 'type=oci,destination=x.tar', dir]);
  t.is(r.status, 1);
  t.regex(r.stderr, /unknown option "destination"/);
  t.deepEqual((await readdir(h.tmp)).sort(), ['hello']);
});

test('-o type=local writes the final filesystem', async (t) => {
  const h = await createHarness(t);
  const dir = await h.fixture('hello');
  const out = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-local-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  h.ok(['build', '--progress=quiet', '-o', `type=local,dest=${out}`, dir]);
  t.is(await readFile(path.join(out, 'srv', 'shout.txt'), 'utf8'), 'HELLO FROM TSBUILD\n');
  t.true((await readdir(path.join(out, 'bin'))).includes('busybox'));
});

test('copy-based snapshots (no overlayfs) give the same image as overlay snapshots', async (t) => {
  const digests: string[] = [];
  for (const snapshotter of ['overlay', 'copy']) {
    const h = await createHarness(t);
    const dir = path.join(h.tmp, 'proj');
    execFileSync('mkdir', ['-p', dir]);
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN mkdir -p /d && echo x > /d/x && echo y > /etc/motd\nRUN rm /d/x && echo z > /d/z && rm /etc/motd\nCOPY Dockerfile /d/\n');
    const meta = path.join(h.tmp, 'm.json');
    const out = path.join(h.tmp, 'fs');
    h.ok(['build', '--progress=quiet', '--metadata-file', meta, '-o', `type=oci,dest=${path.join(h.tmp, 'o.tar')},rewrite-timestamp=true`, dir], { env: { SOURCE_DATE_EPOCH: '1700000000', TSBUILD_SNAPSHOTTER: snapshotter } });
    h.ok(['build', '--progress=quiet', '-o', `type=local,dest=${out}`, dir], { env: { SOURCE_DATE_EPOCH: '1700000000', TSBUILD_SNAPSHOTTER: snapshotter } });
    t.deepEqual((await readdir(path.join(out, 'd'))).sort(), ['Dockerfile', 'z'], snapshotter);
    t.deepEqual((await readdir(path.join(out, 'etc'))).includes('motd'), false);
    digests.push((JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>)['containerimage.config.digest']!);
  }
  // Same filesystem diffs, so the same diff_ids and config.
  t.is(digests[0], digests[1]);
});
