/**
 * Choosing an image index entry for a platform, as containerd's `platforms.Only` does for
 * BuildKit: variants are normalised (arm64 means arm64/v8, arm means arm/v7), an exact match
 * wins, and 32-bit arm falls back to older variants the CPU can still run (v7 runs v6 and v5).
 * Entries for os `unknown` (BuildKit's attestation manifests) never match.
 */
import type { Platform } from '../graph/index.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

export function normalizePlatform(p: PlatformSpec): { os: string; architecture: string; variant: string } {
  const architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  if (architecture === 'arm64' && (variant === '' || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && variant === '') variant = 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = '';
  return { os: p.os.toLowerCase(), architecture, variant };
}

export function formatPlatform(p: PlatformSpec | undefined): string {
  return p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : 'unknown';
}

/** Index of the best entry for `want`, or -1. */
export function selectPlatform(entries: Array<PlatformSpec | undefined>, want: Platform): number {
  const w = normalizePlatform(want);
  const acceptable = [w.variant];
  if (w.architecture === 'arm') for (const v of ['v7', 'v6', 'v5']) if (v < w.variant && !acceptable.includes(v)) acceptable.push(v);
  let best = -1;
  let bestRank = Infinity;
  entries.forEach((e, i) => {
    if (!e) return;
    const n = normalizePlatform(e);
    if (n.os !== w.os || n.architecture !== w.architecture) return;
    const rank = acceptable.indexOf(n.variant);
    if (rank !== -1 && rank < bestRank) {
      best = i;
      bestRank = rank;
    }
  });
  return best;
}
