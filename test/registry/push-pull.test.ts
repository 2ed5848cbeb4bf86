import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness } from '../helpers/tsbuild.js';
import { startFaultProxy, startRegistry } from '../helpers/registry.js';

test('--push lands an image that skopeo reads and podman runs; a fresh state root builds FROM it by pulling', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const h = await createHarness(t);
  const dir = await h.fixture('hello');
  const name = `${reg.host}/tsbuild/hello:v1`;
  const pushed = h.run(['build', '--progress=plain', '--push', '-t', name, dir]);
  t.is(pushed.status, 0, pushed.stderr);
  t.regex(pushed.stderr, /pushed .*blobs uploaded/);

  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8' })) as { Env: string[] };
  t.true(inspect.Env.includes('GREETING_FILE=/srv/shout.txt'));

  // podman pulls from the loopback registry and runs it (settings as the peer lab needs them).
  const cfg = path.join(h.tmp, 'podman');
  execFileSync('mkdir', ['-p', cfg]);
  await writeFile(path.join(cfg, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${cfg}/run"\ngraphroot = "${cfg}/storage"\n`);
  await writeFile(path.join(cfg, 'registries.conf'), `unqualified-search-registries = []\n[[registry]]\nlocation = "${reg.host}"\ninsecure = true\n`);
  await writeFile(path.join(cfg, 'containers.conf'), '[containers]\nnetns = "none"\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const env = { ...process.env, CONTAINERS_CONF: `${cfg}/containers.conf`, CONTAINERS_STORAGE_CONF: `${cfg}/storage.conf`, CONTAINERS_REGISTRIES_CONF: `${cfg}/registries.conf` };
  t.teardown(() => void spawnSync('podman', ['rmi', '-af'], { env }));
  const run = spawnSync('podman', ['run', '--rm', name], { env, encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout, 'HELLO FROM TSBUILD\n(19 bytes)\n');

  // A second push skips every blob the registry already has.
  const again = h.run(['build', '--progress=plain', '--push', '-t', name, dir]);
  t.regex(again.stderr, /0 blobs uploaded \(0 bytes\)/);

  // Another machine: empty state root, FROM the pushed image, through a proxy that fails and drops.
  const other = await createHarness(t, { busybox: false });
  const proxy = await startFaultProxy(reg.host, { fail500: 2, drop: 1 });
  t.teardown(() => proxy.stop());
  const proj = path.join(other.tmp, 'proj');
  execFileSync('mkdir', ['-p', proj]);
  await writeFile(path.join(proj, 'Dockerfile'), `FROM ${proxy.host}/tsbuild/hello:v1\nUSER root\nRUN cat /srv/shout.txt > /copied\n`);
  const out = path.join(other.tmp, 'fs');
  // Async: the fault proxy lives in this process and must keep answering while the CLI runs.
  const built = await other.runAsync(['build', '--progress=plain', '-o', `type=local,dest=${out}`, proj]);
  t.is(built.status, 0, built.stderr);
  t.is(execFileSync('cat', [path.join(out, 'copied')], { encoding: 'utf8' }), 'HELLO FROM TSBUILD\n');
  t.true(proxy.hits.failed >= 1 && proxy.hits.dropped === 1, `faults injected: ${JSON.stringify(proxy.hits)}`);
});
