/**
 * What the fast runtime (tsbuild-sandbox-exec, native/sandbox-exec.c) needs from the host: its
 * binary, built by `npm run build` when a C compiler and libseccomp's headers are there
 * (scripts/build-native.mjs), and a cgroup holding the step's device rules (v1 or v2). Without
 * either, runner.ts uses runc. TSBUILD_SANDBOX_RUNTIME=runc asks for runc always.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SandboxExecPlan } from './exec-args.js';

declare const __filename: string | undefined;

/** The cgroup v1 devices hierarchy (absent on cgroup v2 hosts). */
const CGROUP_V1_DEVICES = '/sys/fs/cgroup/devices';
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

const cgroups = new Map<string, string[] | null>();

/**
 * Where the device rules are kept: the cgroup v1 devices hierarchy when the host has one, else
 * the cgroup v2 hierarchy, where an eBPF program attached by the helper enforces them (as runc
 * does there). TSBUILD_SANDBOX_DEVICES=cgroup1|cgroup2 picks one (tests use it to run the v2
 * path on a hybrid host).
 */
function devicesHierarchy(): { version: 1 | 2; dir: string } | undefined {
  const wanted = process.env.TSBUILD_SANDBOX_DEVICES;
  if (wanted !== 'cgroup2' && existsSync(path.join(CGROUP_V1_DEVICES, 'devices.allow'))) return { version: 1, dir: CGROUP_V1_DEVICES };
  if (wanted === 'cgroup1') return undefined;
  // Unified (/sys/fs/cgroup itself) or hybrid (v2 beside the v1 controllers).
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) if (existsSync(path.join(dir, 'cgroup.controllers'))) return { version: 2, dir };
  return undefined;
}

/**
 * The helper's arguments that put a step under `rules`: a cgroup per rule set (named by a digest
 * of the rules, made once and kept for later builds, as Docker keeps its parent cgroups), with
 * the v1 rules written here or the v2 filter attached by the helper. Undefined when neither
 * hierarchy can be used (runc is used then).
 */
export function devicesCgroupArgs(rules: NonNullable<SandboxExecPlan['devices']>): string[] | undefined {
  const text = [...rules.deny.map((r) => `deny ${r}`), ...rules.allow.map((r) => `allow ${r}`)].join('\n');
  let args = cgroups.get(text);
  if (args === undefined) {
    args = null;
    const hierarchy = devicesHierarchy();
    const dir = hierarchy && path.join(hierarchy.dir, `tsbuild-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`);
    // "Deny all, then allow some" (a default step), or no rule but allowing all (--security=insecure).
    const denyAll = rules.deny.length === 1 && rules.deny[0] === 'a *:* rwm';
    const allowAll = rules.deny.length === 0 && rules.allow.includes('a *:* rwm');
    try {
      if (hierarchy?.version === 1) {
        mkdirSync(dir!, { recursive: true });
        // Rewritten only when its list differs (made by a crashed tsbuild halfway, or changed by
        // someone): writing `deny a` empties the list for a moment, under another build's step.
        const list = (f: string) => f.split('\n').filter(Boolean).sort().join('\n');
        const want = denyAll ? list(rules.allow.join('\n')) : undefined;
        if (want === undefined || list(readFileSync(path.join(dir!, 'devices.list'), 'utf8')) !== want) {
          for (const r of rules.deny) writeFileSync(path.join(dir!, 'devices.deny'), r);
          for (const r of rules.allow) writeFileSync(path.join(dir!, 'devices.allow'), r);
        }
        args = ['--devices-cgroup', dir!];
      } else if (hierarchy?.version === 2 && (denyAll || allowAll)) {
        // The filter allows the listed devices and denies the rest: v1's "deny all, then allow".
        mkdirSync(dir!, { recursive: true });
        args = ['--devices-cgroup2', dir!, ...rules.allow.flatMap((r) => ['--device-rule', r])];
      }
    } catch {
      args = null;
    }
    cgroups.set(text, args);
  }
  return args ?? undefined;
}
