import test from 'ava';
import { parseDockerfile } from '../../src/parser/index.js';
import { formatGoDuration, formatGoRune, formatHealthcheckHistory } from '../../src/plan/healthcheck-history.js';
import { planBuild } from '../../src/plan/index.js';

test('formatGoDuration matches Go time.Duration.String', (t) => {
  const cases: Array<[number, string]> = [
    [0, '0s'], [5, '5ns'], [1500, '1.5µs'], [250e6, '250ms'], [1.5e6, '1.5ms'], [1e9, '1s'], [1.5e9, '1.5s'],
    [90e9, '1m30s'], [3600e9, '1h0m0s'], [3723e9, '1h2m3s'], [61.25e9, '1m1.25s'], [-5e9, '-5s'],
  ];
  for (const [ns, s] of cases) t.is(formatGoDuration(ns), s, s);
});

test('formatGoRune matches Go %q of an int', (t) => {
  t.is(formatGoRune(0), "'\\x00'");
  t.is(formatGoRune(3), "'\\x03'");
  t.is(formatGoRune(10), "'\\n'");
  t.is(formatGoRune(65), "'A'");
  t.is(formatGoRune(39), "'\\''");
});

test('HEALTHCHECK history text is what BuildKit writes (Go %q of the config struct)', async (t) => {
  const g = await planBuild({ ast: parseDockerfile('FROM busybox\nHEALTHCHECK --interval=1m30s --retries=3 CMD ["curl", "-f", "http://x/"]\nHEALTHCHECK NONE\n', { file: 'D' }) });
  const hc = g.target.history.filter((h) => h.created_by.startsWith('HEALTHCHECK')).map((h) => h.created_by);
  t.deepEqual(hc, ['HEALTHCHECK &{["CMD" "curl" "-f" "http://x/"] "1m30s" "0s" "0s" "0s" \'\\x03\'}', 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}']);
  t.true(g.target.history.every((h) => !h.created_by.startsWith('HEALTHCHECK') || h.empty_layer === true));
  t.is(formatHealthcheckHistory({ Test: ['CMD-SHELL', 'true'], Timeout: 2e9 }), 'HEALTHCHECK &{["CMD-SHELL" "true"] "0s" "2s" "0s" "0s" \'\\x00\'}');
});

test('HEALTHCHECK zero values are left out of the config, as BuildKit omits them (--retries=0, --interval=0s)', async (t) => {
  const g = await planBuild({ ast: parseDockerfile('FROM busybox\nHEALTHCHECK --interval=0s --timeout=500ms --retries=0 CMD ["true"]\n', { file: 'D' }) });
  t.deepEqual(g.target.config.Healthcheck, { Test: ['CMD', 'true'], Timeout: 500e6 });
  t.is(g.target.history.at(-1)!.created_by, 'HEALTHCHECK &{["CMD" "true"] "0s" "500ms" "0s" "0s" \'\\x00\'}');
});
