// Builds dist/native/tsbuild-sandbox-exec from src/sandbox/native/sandbox-exec.c, the fast RUN
// runtime (src/sandbox/runner.ts). It needs a C compiler and libseccomp's headers (Debian: gcc,
// libc6-dev, libseccomp-dev); without them the build goes on and RUN steps use runc, as the
// warning says. Only Linux has the namespaces it is for.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src', 'sandbox', 'native', 'sandbox-exec.c');
const out = path.join(root, 'dist', 'native', 'tsbuild-sandbox-exec');

rmSync(out, { force: true });
if (process.platform !== 'linux') process.exit(0);
mkdirSync(path.dirname(out), { recursive: true });
const cc = process.env.CC || 'cc';
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, source, '-lseccomp'], { encoding: 'utf8' });
if (r.status !== 0) {
  rmSync(out, { force: true });
  const why = r.error ? `${cc} not found` : r.stderr.trim().split('\n').slice(0, 5).join('\n');
  console.warn(`build-native: tsbuild-sandbox-exec not built, RUN steps will use runc (needs gcc, libc6-dev, libseccomp-dev):\n${why}`);
}
