/** Go's time.ParseDuration, returning nanoseconds (the unit of Docker's Healthcheck config). */
const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

export function parseDuration(input: string): number | undefined {
  // Go accepts one leading sign; a negative result is then refused by the caller's range check.
  const sign = input.startsWith('-') ? -1 : 1;
  const text = /^[+-]/.test(input) ? input.slice(1) : input;
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== text.length) return undefined;
  return total === 0 ? 0 : sign * Math.round(total);
}
