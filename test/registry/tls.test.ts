/**
 * A registry serving HTTPS with a certificate from a private CA (docker-registry with TLS on a
 * non-loopback address): refused as untrusted by default; trusted through NODE_EXTRA_CA_CERTS
 * (which bin/tsbuild defers to the first TLS connection); reached without verification with
 * --insecure-registry, as Docker does. Pull (GET) and push (POST, PATCH, PUT with streamed
 * bodies) both go through the same transport.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { busyboxLayer, skopeoPush, writeLayout } from '../helpers/oci-layout.js';
import { startRegistry } from '../helpers/registry.js';
import { makeCerts } from '../helpers/tls.js';
import { createHarness, repo } from '../helpers/tsbuild.js';

/** A non-loopback IPv4 address of this machine (loopback registries are always plain HTTP). */
const address = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

(address ? test : test.skip)('a TLS registry with a private CA: untrusted by default, trusted via NODE_EXTRA_CA_CERTS, unverified with --insecure-registry', async (t) => {
  const h = await createHarness(t, { busybox: false });
  const certs = makeCerts(h.tmp, address);
  const reg = await startRegistry({ listen: address!, tls: certs });
  t.teardown(() => reg.stop());
  const layout = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  t.teardown(() => rm(layout, { recursive: true, force: true }));
  await writeLayout(layout, 'img', [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [await busyboxLayer()] }]);
  skopeoPush(layout, 'img', `${reg.host}/busybox:latest`);

  const dir = path.join(h.tmp, 'app');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${reg.host}/busybox:latest\nRUN echo tls-ok > /ok\n`);
  const { NODE_EXTRA_CA_CERTS: _, ...base } = process.env;
  const tsbuild = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(path.join(repo, 'bin', 'tsbuild'), args, { encoding: 'utf8', env: { ...base, TSBUILD_ROOT: h.root, ...env } });
  const pushed = (tag: string) => JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/app:${tag}`], { encoding: 'utf8' })) as { Layers: string[] };

  const untrusted = tsbuild(['--debug', 'build', '--progress=plain', dir]);
  t.not(untrusted.status, 0);
  t.regex(untrusted.stderr, /code: ERR_TSBUILD_REGISTRY_HTTP/, untrusted.stderr);
  t.regex(untrusted.stderr, /no trusted CA vouches for .*NODE_EXTRA_CA_CERTS.*--insecure-registry/s);

  const trusted = tsbuild(['build', '--progress=plain', '--push', '-t', `${reg.host}/app:ca`, dir], { NODE_EXTRA_CA_CERTS: certs.ca });
  t.is(trusted.status, 0, trusted.stderr);
  t.is(pushed('ca').Layers.length, 2);

  const insecure = tsbuild(['build', '--progress=plain', '--no-cache', '--push', '-t', `${reg.host}/app:insecure`, '--insecure-registry', reg.host, dir]);
  t.is(insecure.status, 0, insecure.stderr);
  t.is(pushed('insecure').Layers.length, 2);
});
