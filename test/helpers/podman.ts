/**
 * podman with private storage and config in a temp dir, reaching loopback registries over
 * plain HTTP (the settings the peer lab needs: runc, cgroupfs, no network namespace setup).
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

export function podman(t: ExecutionContext, dir: string, registries: string[]): (args: string[]) => SpawnSyncReturns<string> {
  execFileSync('mkdir', ['-p', dir]);
  writeFileSync(path.join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/storage"\n`);
  writeFileSync(path.join(dir, 'registries.conf'), `unqualified-search-registries = []\n${registries.map((r) => `[[registry]]\nlocation = "${r}"\ninsecure = true\n`).join('')}`);
  writeFileSync(path.join(dir, 'containers.conf'), '[containers]\nnetns = "none"\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const env = { ...process.env, CONTAINERS_CONF: `${dir}/containers.conf`, CONTAINERS_STORAGE_CONF: `${dir}/storage.conf`, CONTAINERS_REGISTRIES_CONF: `${dir}/registries.conf` };
  t.teardown(() => void spawnSync('podman', ['rmi', '-af'], { env }));
  return (args) => spawnSync('podman', args, { env, encoding: 'utf8' });
}
