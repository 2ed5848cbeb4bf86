/**
 * Registry credentials as the CLI finds them: `credsStore` and `credHelpers` in
 * $DOCKER_CONFIG/config.json answered by a real `docker-credential-*` executable on PATH, for
 * Basic (htpasswd) and Bearer (token server) registries. A refused login fails with a code and
 * never shows the secret, not even with --debug. Plain HTTP for a non-loopback registry only
 * with --insecure-registry (or TSBUILD_INSECURE_REGISTRIES).
 */
import test, { type ExecutionContext } from 'ava';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { busyboxLayer, skopeoPush, writeLayout } from '../helpers/oci-layout.js';
import { startRegistry, startTokenServer } from '../helpers/registry.js';
import { createHarness, type Harness } from '../helpers/tsbuild.js';

const USER = 'ci-robot';
const SECRET = 'Zq7-very-secret-pw-41';
const codeOf = (stderr: string): string | undefined => /code: (ERR_TSBUILD_\w+)/.exec(stderr)?.[1];

/** Every form the secret could leak in: plain, Basic header payload, base64 of the secret alone. */
const leaks = (text: string, secret: string): string[] =>
  [secret, Buffer.from(`${USER}:${secret}`).toString('base64'), Buffer.from(secret).toString('base64')].filter((s) => text.includes(s));

interface Creds {
  env: NodeJS.ProcessEnv;
  calls(): Promise<string[]>;
}

/**
 * A temp DOCKER_CONFIG with `config`, and a bin dir on PATH holding `docker-credential-<name>`
 * scripts that answer `get` for `server` with `secret` (and log each call).
 */
async function credentials(t: ExecutionContext, config: object, helpers: Record<string, { server: string; secret: string }>): Promise<Creds> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-creds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  const log = path.join(dir, 'calls.log');
  await writeFile(log, '');
  for (const [name, { server, secret }] of Object.entries(helpers)) {
    const script = path.join(bin, `docker-credential-${name}`);
    await writeFile(
      script,
      `#!/bin/sh\nread -r server\necho "${name} $1 $server" >> '${log}'\nif [ "$1" = get ] && [ "$server" = '${server}' ]; then\n  printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${secret}"}\\n' "$server"\nelse\n  echo "credentials not found in native keychain"\n  exit 1\nfi\n`,
    );
    await chmod(script, 0o755);
  }
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  return {
    env: { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` },
    calls: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean),
  };
}

async function project(h: Harness, name: string, dockerfile: string): Promise<string> {
  const dir = path.join(h.tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

test('credsStore through a docker-credential helper on PATH: push and pull against htpasswd Basic auth; wrong secret fails without showing it', async (t) => {
  const reg = await startRegistry({ htpasswd: { user: USER, password: SECRET } });
  t.teardown(() => reg.stop());
  const good = await credentials(t, { credsStore: 'tsbtest' }, { tsbtest: { server: reg.host, secret: SECRET } });
  const h = await createHarness(t);
  const dir = await project(h, 'app', 'FROM busybox\nRUN echo authed > /authed\n');
  const pushed = h.run(['build', '--progress=plain', '--push', '-t', `${reg.host}/auth/app:v1`, dir], { env: good.env });
  t.is(pushed.status, 0, pushed.stderr);
  t.true((await good.calls()).includes(`tsbtest get ${reg.host}`));
  t.deepEqual(leaks(pushed.stderr + pushed.stdout, SECRET), []);

  const other = await createHarness(t, { busybox: false });
  const pull = await project(other, 'pull', `FROM ${reg.host}/auth/app:v1\nRUN cat /authed\n`);
  const pulled = other.run(['build', '--progress=plain', pull], { env: good.env });
  t.is(pulled.status, 0, pulled.stderr);

  const anonymous = other.run(['--debug', 'build', '--no-cache', pull], { env: { DOCKER_CONFIG: path.join(other.tmp, 'no-config') } });
  t.not(anonymous.status, 0);
  t.is(codeOf(anonymous.stderr), 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED', anonymous.stderr);

  const wrongSecret = 'Wr0ng-but-still-secret-99';
  const bad = await credentials(t, { credsStore: 'tsbtest' }, { tsbtest: { server: reg.host, secret: wrongSecret } });
  const refused = h.run(['--debug', 'build', '--progress=plain', '--push', '-t', `${reg.host}/auth/other:v1`, dir], { env: bad.env });
  t.not(refused.status, 0);
  t.is(codeOf(refused.stderr), 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED', refused.stderr);
  t.deepEqual(leaks(refused.stderr + refused.stdout, wrongSecret), [], 'no form of the secret in the output');
});

test('credHelpers pick the helper per registry (over credsStore), for the Bearer token flow too', async (t) => {
  const tokens = await startTokenServer({ user: USER, password: SECRET });
  t.teardown(() => tokens.stop());
  const reg = await startRegistry({ token: tokens });
  t.teardown(() => reg.stop());
  // credsStore names a helper that does not exist: the per-registry helper must win.
  const creds = await credentials(t, { credsStore: 'missing-helper', credHelpers: { [reg.host]: 'perreg' } }, { perreg: { server: reg.host, secret: SECRET } });
  const h = await createHarness(t);
  const dir = await project(h, 'app', 'FROM busybox\nRUN echo bearer > /bearer\n');
  const pushed = await h.runAsync(['build', '--progress=plain', '--push', '-t', `${reg.host}/bearer/app:v1`, dir], { env: creds.env });
  t.is(pushed.status, 0, pushed.stderr);
  t.true((await creds.calls()).every((c) => c === `perreg get ${reg.host}`));
  t.true(tokens.requests.some((q) => q.includes('scope=repository%3Abearer%2Fapp%3Apush%2Cpull')));

  const other = await createHarness(t, { busybox: false });
  const pull = await project(other, 'pull', `FROM ${reg.host}/bearer/app:v1\nRUN cat /bearer\n`);
  const pulled = await other.runAsync(['build', '--progress=plain', pull], { env: creds.env });
  t.is(pulled.status, 0, pulled.stderr);

  const wrongSecret = 'Bearer-wr0ng-secret-77';
  const bad = await credentials(t, { credHelpers: { [reg.host]: 'perreg' } }, { perreg: { server: reg.host, secret: wrongSecret } });
  const refused = await other.runAsync(['--debug', 'build', '--no-cache', pull], { env: bad.env });
  t.not(refused.status, 0);
  t.is(codeOf(refused.stderr), 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED', refused.stderr);
  t.deepEqual(leaks(refused.stderr + refused.stdout, wrongSecret), [], 'no form of the secret in the output');
});

/** A non-loopback IPv4 address of this machine. */
function externalAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

const address = externalAddress();
(address ? test : test.skip)('a registry on a non-loopback address is plain HTTP only with --insecure-registry or TSBUILD_INSECURE_REGISTRIES', async (t) => {
  const reg = await startRegistry({ listen: address! });
  t.teardown(() => reg.stop());
  const layout = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  t.teardown(() => rm(layout, { recursive: true, force: true }));
  await writeLayout(layout, 'img', [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [await busyboxLayer()] }]);
  skopeoPush(layout, 'img', `${reg.host}/busybox:latest`);
  const h = await createHarness(t, { busybox: false });
  const dir = await project(h, 'app', `FROM ${reg.host}/busybox:latest\nRUN echo insecure-ok > /ok\n`);

  // HTTPS against a plain HTTP server: the TLS handshake fails.
  const secure = h.run(['--debug', 'build', dir]);
  t.not(secure.status, 0);
  t.is(codeOf(secure.stderr), 'ERR_TSBUILD_REGISTRY_HTTP', secure.stderr);
  t.regex(secure.stderr, new RegExp(`https://${reg.host.replace(/\./g, '\\.')}/v2/`));
  t.true(secure.stderr.includes(`hint: TLS with ${reg.host} failed`) && secure.stderr.includes(`--insecure-registry ${reg.host}`), secure.stderr);

  const flagged = h.run(['build', '--progress=plain', '--insecure-registry', reg.host, dir]);
  t.is(flagged.status, 0, flagged.stderr);
  const configured = h.run(['build', '--progress=plain', '--no-cache', dir], { env: { TSBUILD_INSECURE_REGISTRIES: `other.example,${address}` } });
  t.is(configured.status, 0, configured.stderr);
});
