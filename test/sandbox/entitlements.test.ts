/**
 * Entitlements, as BuildKit: RUN --security=insecure is refused before any step without the security.insecure
 * entitlement; with `--allow security.insecure` the step runs privileged (every capability, no
 * seccomp, it can mount), while the build's other RUN steps keep the default sandbox.
 */
import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness, executed } from '../helpers/tsbuild.js';

const dockerfile = [
  'FROM busybox',
  'RUN (mkdir -p /mnt-test && mount -t tmpfs none /mnt-test && echo plain-mounted || echo plain-refused) > /plain.txt',
  'RUN --security=insecure (mkdir -p /mnt-test && mount -t tmpfs none /mnt-test && echo insecure-mounted || echo insecure-refused) > /insecure.txt && grep CapEff /proc/self/status > /caps.txt',
  '',
].join('\n');

test('RUN --security=insecure: refused without --allow security.insecure (file:line, nothing runs); privileged with it', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);

  const refused = h.run(['--debug', 'build', '--progress=rawjson', dir]);
  t.is(refused.status, 1);
  t.regex(refused.stderr, /code: ERR_TSBUILD_ENTITLEMENT/);
  t.regex(refused.stderr, /Dockerfile:3: RUN --security=insecure needs the security\.insecure entitlement/);
  t.regex(refused.stderr, /--allow security\.insecure/);
  t.deepEqual(executed(refused.stderr), [], 'refused before any step');

  const bad = h.run(['--debug', 'build', '--allow', 'root.everything', dir]);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /code: ERR_TSBUILD_CLI_USAGE/);
  t.regex(bad.stderr, /invalid --allow "root\.everything"/);

  const out = path.join(h.tmp, 'out');
  h.ok(['build', '-q', '--allow', 'security.insecure', '-o', `type=local,dest=${out}`, dir]);
  const { readFile } = await import('node:fs/promises');
  t.is((await readFile(path.join(out, 'plain.txt'), 'utf8')).trim(), 'plain-refused', 'a default RUN still cannot mount');
  t.is((await readFile(path.join(out, 'insecure.txt'), 'utf8')).trim(), 'insecure-mounted');
  const capEff = BigInt(`0x${(await readFile(path.join(out, 'caps.txt'), 'utf8')).trim().split(/\s+/)[1]}`);
  t.true((capEff & (1n << 21n)) !== 0n, 'CAP_SYS_ADMIN is effective');
});

test('RUN --network=host needs network.host (--allow network.host, or --network host for the build), as in Docker 26', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN true\nRUN --network=host ls /sys/class/net > /nets.txt\n');
  const refused = h.run(['--debug', 'build', '--progress=rawjson', dir]);
  t.is(refused.status, 1);
  t.regex(refused.stderr, /code: ERR_TSBUILD_ENTITLEMENT/);
  t.regex(refused.stderr, /Dockerfile:3: RUN --network=host needs the network\.host entitlement/);
  t.deepEqual(executed(refused.stderr), []);
  const { readFile } = await import('node:fs/promises');
  for (const grant of [['--allow', 'network.host'], ['--network', 'host']]) {
    const out = path.join(h.tmp, `out-${grant[0]!.slice(2)}`);
    h.ok(['build', '-q', ...grant, '-o', `type=local,dest=${out}`, dir]);
    // The host's network namespace: its interfaces, more than a fresh namespace's lone loopback.
    t.true((await readFile(path.join(out, 'nets.txt'), 'utf8')).trim().split('\n').length > 1, grant.join(' '));
  }
});

test("a RUN's own --network wins over the build's --network, which only replaces the default (as BuildKit)", async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN --network=none ls /sys/class/net > /own.txt\nRUN ls /sys/class/net > /default.txt\n');
  const out = path.join(h.tmp, 'out');
  h.ok(['build', '-q', '--network', 'host', '-o', `type=local,dest=${out}`, dir]);
  const { readFile } = await import('node:fs/promises');
  t.is((await readFile(path.join(out, 'own.txt'), 'utf8')).trim(), 'lo');
  t.true((await readFile(path.join(out, 'default.txt'), 'utf8')).trim().split('\n').length > 1, 'the default RUN got the host network');
  // The build's --network is part of a default RUN's definition, so of its cache key (as in
  // BuildKit's LLB): without it that step runs again; the RUN with its own --network hits.
  const again = h.run(['build', '--progress=rawjson', dir]);
  t.is(again.status, 0, again.stderr);
  t.deepEqual(executed(again.stderr).map((n) => n.replace(/^\[[^\]]+\] /, '')), ['RUN ls /sys/class/net > /default.txt']);
});
