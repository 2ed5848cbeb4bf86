import { createHash } from 'node:crypto';

/** A content digest. Only sha256 is produced; other algorithms are rejected on input. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a digest (the file name in blob stores). */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped. Two values that
 * mean the same serialize to the same bytes, so their digests match regardless of key order.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Digest of a value's canonical JSON. */
export function digestOf(value: unknown): Digest {
  return sha256(canonicalJson(value));
}
