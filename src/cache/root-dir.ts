/**
 * Where the state root is: --root wins, then $TSBUILD_ROOT, then /var/lib/tsbuild for root or the
 * XDG data dir. Its own module: the up-to-date check (src/cli/up-to-date.ts) runs before the rest
 * of the state root's code is loaded.
 */
import os from 'node:os';
import path from 'node:path';

export function resolveStateRootDir(options: { root?: string | undefined; env?: NodeJS.ProcessEnv }): string {
  const env = options.env ?? {};
  if (options.root) return path.resolve(options.root);
  if (env.TSBUILD_ROOT) return path.resolve(env.TSBUILD_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/tsbuild';
  const data = env.XDG_DATA_HOME ?? path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return path.join(data, 'tsbuild');
}
