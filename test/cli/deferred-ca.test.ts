/**
 * The `tsbuild` launcher (bin/tsbuild) keeps Node from parsing NODE_EXTRA_CA_CERTS at start-up
 * and tsbuild trusts those certificates when it first needs TLS (src/util/deferred-ca.ts): for
 * ADD <url> in a build and for the transport the registry client uses, against a real HTTPS
 * server whose certificate only a test CA vouches for (test/registry/tls.test.ts: a registry).
 */
import test from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeCerts } from '../helpers/tls.js';
import { createHarness, repo, runCommand } from '../helpers/tsbuild.js';

const launcher = path.join(repo, 'bin', 'tsbuild');

test('NODE_EXTRA_CA_CERTS: not parsed at start-up, trusted by ADD <url> and the registry transport', async (t) => {
  const h = await createHarness(t, { busybox: false });
  const certs = makeCerts(h.tmp);
  const server = createServer({ key: await readFile(certs.key), cert: await readFile(certs.cert) }, (_req, res) => res.end('over tls\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hello.txt`;
  const { NODE_EXTRA_CA_CERTS: _, ...base } = process.env;
  const env = { ...base, TSBUILD_ROOT: h.root };

  // Node itself warns at start-up about an unreadable file; through the launcher it never reads it.
  const bogus = { ...env, NODE_EXTRA_CA_CERTS: path.join(h.tmp, 'missing.pem') };
  t.regex((await runCommand(t, process.execPath, [path.join(repo, 'bin', 'tsbuild.js'), '--version'], { env: bogus, cwd: h.tmp })).stderr, /Ignoring extra certs/);
  const quiet = await runCommand(t, launcher, ['--version'], { env: bogus, cwd: h.tmp });
  t.is(quiet.status, 0);
  t.notRegex(quiet.stderr, /Ignoring extra certs/);

  const ctx = path.join(h.tmp, 'ctx');
  await mkdir(ctx);
  await writeFile(path.join(ctx, 'Dockerfile'), `FROM scratch\nADD ${url} /hello.txt\n`);
  const build = (e: NodeJS.ProcessEnv, out: string) => runCommand(t, launcher, ['build', '--progress=plain', '-o', `type=local,dest=${out}`, ctx], { env: e, cwd: h.tmp });

  const untrusted = await build(env, path.join(h.tmp, 'out0'));
  t.not(untrusted.status, 0, 'the test CA is not trusted by default');
  t.regex(untrusted.stderr, /certificate|self.signed|UNABLE_TO_VERIFY|unable to verify/i);

  const trusted = await build({ ...env, NODE_EXTRA_CA_CERTS: certs.ca }, path.join(h.tmp, 'out1'));
  t.is(trusted.status, 0, trusted.stderr);
  t.is(await readFile(path.join(h.tmp, 'out1', 'hello.txt'), 'utf8'), 'over tls\n');

  // The registry transport's node:https path, with the variable as the launcher hands it on.
  const script = `import(${JSON.stringify(path.join(repo, 'dist', 'util', 'http-transport.js'))}).then((m) => m.transport(${JSON.stringify(url)})).then((r) => r.text()).then((s) => process.stdout.write(s))`;
  const viaHttps = await runCommand(t, process.execPath, ['-e', script], { env: { ...env, TSBUILD_EXTRA_CA_CERTS: certs.ca }, cwd: h.tmp });
  t.is(viaHttps.stdout, 'over tls\n', viaHttps.stderr);
  t.not((await runCommand(t, process.execPath, ['-e', script], { env, cwd: h.tmp })).status, 0);
});
