/**
 * What the fast runtime (tsbuild-sandbox-exec, native/sandbox-exec.c) needs from the host: its
 * binary, built by `npm run build` when a C compiler and libseccomp's headers are there
 * (scripts/build-native.mjs), and a cgroup v1 devices cgroup holding the step's device rules.
 * Without either, runner.ts uses runc. TSBUILD_SANDBOX_RUNTIME=runc asks for runc always.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SandboxExecPlan } from './exec-args.js';

declare const __filename: string | undefined;

/** The cgroup v1 devices hierarchy (absent on cgroup v2 hosts, which then use runc). */
const DEVICES_HIERARCHY = '/sys/fs/cgroup/devices';
const BINARY = 'tsbuild-sandbox-exec';

let binary: string | null | undefined;

/** Path of the built helper, or undefined when it was not built (or runc is asked for). */
export function sandboxExecBinary(): string | undefined {
  if (process.env.TSBUILD_SANDBOX_RUNTIME === 'runc') return undefined;
  if (binary === undefined) {
    // This module is src/sandbox/*.ts (tests), dist/sandbox/*.js or dist/bundle/main.cjs: the
    // package root is two levels up from each, and the build puts the helper in dist/native/.
    const here = typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
    const candidate = path.join(path.dirname(here), '..', '..', 'dist', 'native', BINARY);
    try {
      accessSync(candidate, constants.X_OK);
      binary = candidate;
    } catch {
      binary = null;
    }
  }
  return binary ?? undefined;
}

const cgroups = new Map<string, string | null>();

/**
 * The devices cgroup with exactly `rules` (made once, kept for later builds as Docker keeps its
 * parent cgroups), named by a digest of the rules so two rule sets never share one; undefined
 * when there is no v1 devices hierarchy or it cannot be written (runc is used then).
 */
export function devicesCgroup(rules: SandboxExecPlan['devices']): string | undefined {
  const text = [...rules.deny.map((r) => `deny ${r}`), ...rules.allow.map((r) => `allow ${r}`)].join('\n');
  let dir = cgroups.get(text);
  if (dir === undefined) {
    dir = null;
    if (existsSync(path.join(DEVICES_HIERARCHY, 'devices.allow'))) {
      const candidate = path.join(DEVICES_HIERARCHY, `tsbuild-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`);
      try {
        mkdirSync(candidate, { recursive: true });
        // Rewritten only when its list differs (made by a crashed tsbuild halfway, or changed by
        // someone): writing `deny a` empties the list for a moment, under another build's step.
        const list = (f: string) => f.split('\n').filter(Boolean).sort().join('\n');
        const want = rules.deny.includes('a *:* rwm') ? list(rules.allow.join('\n')) : undefined;
        if (want === undefined || list(readFileSync(path.join(candidate, 'devices.list'), 'utf8')) !== want) {
          for (const r of rules.deny) writeFileSync(path.join(candidate, 'devices.deny'), r);
          for (const r of rules.allow) writeFileSync(path.join(candidate, 'devices.allow'), r);
        }
        dir = candidate;
      } catch {
        dir = null;
      }
    }
    cgroups.set(text, dir);
  }
  return dir ?? undefined;
}
