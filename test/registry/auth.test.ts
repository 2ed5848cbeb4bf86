import test from 'ava';
import { createDockerCredentialStore, parseChallenge } from '../../src/registry/auth.js';
import { createRegistryClient } from '../../src/registry/client.js';
import { startFaultProxy, startRegistry, startTokenServer } from '../helpers/registry.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const repo = (host: string) => ({ registry: host, repository: 'tsbuild/auth-test' });

async function dockerConfig(auths: Record<string, unknown>): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-dockercfg-'));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths }));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test('parses Bearer and Basic challenges', (t) => {
  t.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
  t.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  t.is(parseChallenge(null), undefined);
  t.is(parseChallenge('Negotiate abc'), undefined);
});

test('anonymous access to an open registry', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const client = createRegistryClient();
  const res = await client.request(repo(reg.host), '/tags/list', { ok: [404] });
  t.is(res.status, 404); // no such repository yet, but we got through
  await res.body?.cancel();
});

test('htpasswd Basic auth: credentials from config.json succeed, none or wrong ones are refused', async (t) => {
  const reg = await startRegistry({ htpasswd: { user: 'ci', password: 's3cret-pw' } });
  t.teardown(() => reg.stop());
  const good = await dockerConfig({ [reg.host]: { auth: Buffer.from('ci:s3cret-pw').toString('base64') } });
  const bad = await dockerConfig({ [reg.host]: { auth: Buffer.from('ci:wrong').toString('base64') } });
  t.teardown(() => good.cleanup());
  t.teardown(() => bad.cleanup());

  const ok = createRegistryClient({ credentials: createDockerCredentialStore({ configDir: good.dir }) });
  const res = await ok.request(repo(reg.host), '/tags/list', { ok: [404] });
  t.is(res.status, 404);
  await res.body?.cancel();

  for (const client of [createRegistryClient(), createRegistryClient({ credentials: createDockerCredentialStore({ configDir: bad.dir }) })]) {
    const err = await t.throwsAsync(client.request(repo(reg.host), '/tags/list'));
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED');
    t.false(err!.message.includes('s3cret') || err!.message.includes('wrong'), 'no credentials in errors');
  }
});

test('Bearer token flow: scope requested from the realm named by the challenge', async (t) => {
  const tokens = await startTokenServer({ user: 'robot', password: 'tok-pw' });
  t.teardown(() => tokens.stop());
  const reg = await startRegistry({ token: tokens });
  t.teardown(() => reg.stop());
  const cfg = await dockerConfig({ [reg.host]: { username: 'robot', password: 'tok-pw' } });
  t.teardown(() => cfg.cleanup());
  const client = createRegistryClient({ credentials: createDockerCredentialStore({ configDir: cfg.dir }) });
  const res = await client.request(repo(reg.host), '/tags/list', { actions: 'push,pull', ok: [404] });
  t.is(res.status, 404);
  await res.body?.cancel();
  t.true(tokens.requests.some((q) => q.includes('scope=repository%3Atsbuild%2Fauth-test%3Apush%2Cpull') && q.includes('service=tsbuild-test-registry')));
  const anonymous = createRegistryClient();
  const err = await t.throwsAsync(anonymous.request(repo(reg.host), '/tags/list'));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED');
});

test('retries 500s with backoff and then succeeds', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const proxy = await startFaultProxy(reg.host, { fail500: 3 });
  t.teardown(() => proxy.stop());
  const client = createRegistryClient({ backoffMs: 10 });
  const res = await client.request(repo(proxy.host), '/tags/list', { ok: [404] });
  t.is(res.status, 404);
  await res.body?.cancel();
  t.is(proxy.hits.failed, 3);
});

test('gives up cleanly after persistent 500s', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const proxy = await startFaultProxy(reg.host, { fail500: 100 });
  t.teardown(() => proxy.stop());
  const client = createRegistryClient({ backoffMs: 5, retries: 3 });
  const err = await t.throwsAsync(client.request(repo(proxy.host), '/tags/list'));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_REGISTRY_HTTP');
  t.is(proxy.hits.failed, 3);
});

test('Bearer: a token service answering 500 is retried (not taken as a refusal), and concurrent requests share one token fetch', async (t) => {
  const tokens = await startTokenServer({ user: 'robot', password: 'tok-pw' });
  t.teardown(() => tokens.stop());
  const realmUrl = new URL(tokens.realm);
  const flaky = await startFaultProxy(realmUrl.host, { fail500: 2 });
  t.teardown(() => flaky.stop());
  const reg = await startRegistry({ token: { ...tokens, realm: `http://${flaky.host}${realmUrl.pathname}` } });
  t.teardown(() => reg.stop());
  const cfg = await dockerConfig({ [reg.host]: { username: 'robot', password: 'tok-pw' } });
  t.teardown(() => cfg.cleanup());
  const client = createRegistryClient({ backoffMs: 10, credentials: createDockerCredentialStore({ configDir: cfg.dir }) });
  const responses = await Promise.all([1, 2, 3, 4].map(() => client.request(repo(reg.host), '/tags/list', { actions: 'push,pull', ok: [404] })));
  t.deepEqual(responses.map((r) => r.status), [404, 404, 404, 404]);
  await Promise.all(responses.map((r) => r.body?.cancel()));
  t.is(flaky.hits.failed, 2);
  // The two 500s, then one token fetch served all four requests.
  t.is(tokens.requests.length, 1);
});

test('identity tokens (config.json identitytoken, or a helper answering <token>) go through the OAuth2 refresh-token POST', async (t) => {
  const tokens = await startTokenServer({ refreshToken: 'refresh-Xy9-secret' });
  t.teardown(() => tokens.stop());
  const reg = await startRegistry({ token: tokens });
  t.teardown(() => reg.stop());

  const cfg = await dockerConfig({ [reg.host]: { identitytoken: 'refresh-Xy9-secret' } });
  t.teardown(() => cfg.cleanup());
  const client = createRegistryClient({ credentials: createDockerCredentialStore({ configDir: cfg.dir }) });
  const res = await client.request(repo(reg.host), '/tags/list', { actions: 'push,pull', ok: [404] });
  t.is(res.status, 404);
  await res.body?.cancel();
  t.true(tokens.requests.some((q) => q.startsWith('POST ') && q.includes('grant_type=refresh_token') && q.includes('scope=repository%3Atsbuild%2Fauth-test%3Apush%2Cpull')));

  // A credential helper that answers with the username "<token>" hands over an identity token.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-helper-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ credsStore: 'tsbtoken' }));
  await writeFile(path.join(dir, 'docker-credential-tsbtoken'), '#!/bin/sh\nread -r s\nprintf \'{"ServerURL":"%s","Username":"<token>","Secret":"refresh-Xy9-secret"}\' "$s"\n', { mode: 0o755 });
  const oldPath = process.env.PATH;
  process.env.PATH = `${dir}:${oldPath}`;
  t.teardown(() => void (process.env.PATH = oldPath));
  t.deepEqual(await createDockerCredentialStore({ configDir: dir }).get(reg.host), { username: '', password: '', identityToken: 'refresh-Xy9-secret' });

  const wrong = await dockerConfig({ [reg.host]: { identitytoken: 'refresh-wrong-secret' } });
  t.teardown(() => wrong.cleanup());
  const refused = createRegistryClient({ credentials: createDockerCredentialStore({ configDir: wrong.dir }) });
  const err = await t.throwsAsync(refused.request(repo(reg.host), '/tags/list'));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_REGISTRY_UNAUTHORIZED');
  t.false(err!.message.includes('refresh-wrong-secret'));
});
