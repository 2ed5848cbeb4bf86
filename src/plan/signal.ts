/**
 * STOPSIGNAL validation as BuildKit does it (moby's signal parsing): a non-zero number, or a
 * Linux signal name in any case, with or without `SIG`. The value is kept as written.
 */
const NAMES = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH',
  'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

export function isValidStopSignal(value: string): boolean {
  if (/^[+-]?\d+$/.test(value)) return Number(value) !== 0;
  return NAMES.has(value.toUpperCase().replace(/^SIG/, ''));
}
