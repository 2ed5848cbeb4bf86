/** Deterministic JSON bytes for manifests and configs (key order as built, no whitespace). */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
