import test from 'ava';
import { parseRetryAfter, retryDelay } from '../../src/registry/client.js';
import { RegistryError } from '../../src/errors/index.js';
import { formatPlatform, normalizePlatform, selectPlatform } from '../../src/registry/platform.js';

const linux = (architecture: string, variant?: string) => ({ os: 'linux', architecture, ...(variant ? { variant } : {}) });

test('variants are normalised as containerd does', (t) => {
  t.deepEqual(normalizePlatform(linux('arm64')), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.deepEqual(normalizePlatform(linux('arm')), { os: 'linux', architecture: 'arm', variant: 'v7' });
  t.deepEqual(normalizePlatform(linux('amd64', 'v1')), { os: 'linux', architecture: 'amd64', variant: '' });
  t.is(formatPlatform(linux('arm', 'v6')), 'linux/arm/v6');
});

test('index entries: exact match first, arm falls back to older variants, unknown and other OSes never match', (t) => {
  const entries = [{ os: 'unknown', architecture: 'unknown' }, linux('arm', 'v5'), linux('arm', 'v6'), linux('arm64', 'v8'), linux('amd64'), { os: 'windows', architecture: 'amd64' }, undefined];
  t.is(selectPlatform(entries, linux('amd64')), 4);
  t.is(selectPlatform(entries, linux('arm64')), 3);
  t.is(selectPlatform(entries, linux('arm', 'v7')), 2);
  t.is(selectPlatform(entries, linux('arm', 'v6')), 2);
  t.is(selectPlatform(entries, linux('arm', 'v5')), 1);
  t.is(selectPlatform(entries, linux('s390x')), -1);
  t.is(selectPlatform(entries, { os: 'windows', architecture: 'amd64' }), 5);
  // arm64/v8 written without its variant still matches a request for arm64/v8.
  t.is(selectPlatform([linux('arm64')], linux('arm64', 'v8')), 0);
});

test('Retry-After: delta seconds, HTTP dates, capped; the backoff never undercuts it', (t) => {
  const now = Date.parse('2026-11-29T10:00:00Z');
  t.is(parseRetryAfter('3', now), 3000);
  t.is(parseRetryAfter('Sun, 29 Nov 2026 10:00:05 GMT', now), 5000);
  t.is(parseRetryAfter('Sun, 29 Nov 2026 09:00:00 GMT', now), 0);
  t.is(parseRetryAfter('86400', now), 60_000);
  t.is(parseRetryAfter('soon', now), undefined);
  t.is(parseRetryAfter(null, now), undefined);
  const plain = new RegistryError('ERR_TSBUILD_REGISTRY_HTTP', '500', { status: 500, url: 'x' });
  t.is(retryDelay(plain, 1, 200), 200);
  t.is(retryDelay(plain, 3, 200), 800);
});
