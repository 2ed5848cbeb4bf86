/**
 * The modification time of a tar entry being extracted. tar-stream reads only the ustar field,
 * but a time before 1970 or after 2242 comes in a PAX `mtime` record (Go's archive/tar writes it
 * so, and so do we: snapshot/tar-writer.ts). Extracted times are then bounded as containerd and
 * Docker bound them (`boundTime`): before 1970 or past what a 64-bit timespec holds, the epoch.
 */
const MAX_MS = Number(2n ** 63n / 1_000_000n);

export function entryMtime(header: { mtime?: Date | undefined; pax?: unknown }): Date {
  const pax = (header.pax as Record<string, string> | null | undefined)?.mtime;
  const ms = pax !== undefined && /^-?\d+(\.\d+)?$/.test(pax) ? Number(pax) * 1000 : header.mtime?.getTime();
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > MAX_MS) return new Date(0);
  return new Date(ms);
}
