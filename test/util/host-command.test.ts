/**
 * hostCommand runs host tools through one long-lived shell: outputs must come back split and
 * byte-exact, exit codes and stderr must reach the caller as with execFile, arguments must never
 * be interpreted by the shell, and an idle shell must not keep the process alive.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { hostCommand } from '../../src/util/host-command.js';

test('stdout and stderr are split exactly, with or without a final newline', async (t) => {
  t.deepEqual(await hostCommand('printf', ['a\\nb']), { stdout: 'a\nb', stderr: '' });
  t.deepEqual(await hostCommand('sh', ['-c', 'echo out; echo err >&2; printf "né\\n\\n"']), { stdout: 'out\nné\n\n', stderr: 'err\n' });
});

test('arguments reach the command verbatim: quotes, spaces, $ and ; are not shell syntax', async (t) => {
  const args = ["it's", 'two words', '$HOME', '; echo injected', '`id`', '\\n', ''];
  const r = await hostCommand('printf', ['%s|', ...args]);
  t.is(r.stdout, `${args.join('|')}|`);
});

test('a failing command rejects with its exit status, stdout and stderr, like execFile', async (t) => {
  const err = await t.throwsAsync(hostCommand('sh', ['-c', 'echo partial; echo broken >&2; exit 3']));
  t.is((err as unknown as { code: number }).code, 3);
  t.is((err as unknown as { stdout: string }).stdout, 'partial\n');
  t.is((err as unknown as { stderr: string }).stderr, 'broken\n');
  const missing = await t.throwsAsync(hostCommand('tsbuild-no-such-tool', []));
  t.is((missing as unknown as { code: number }).code, 127);
});

test('concurrent calls each get their own output, in call order', async (t) => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => hostCommand('sh', ['-c', `echo ${i}; echo e${i} >&2`])));
  t.deepEqual(rs.map((r) => r.stdout), Array.from({ length: 20 }, (_, i) => `${i}\n`));
  t.deepEqual(rs.map((r) => r.stderr), Array.from({ length: 20 }, (_, i) => `e${i}\n`));
});

test('a script that used the shell exits by itself (the idle shell holds no reference)', (t) => {
  const mod = path.resolve('src/util/host-command.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { hostCommand } from ${JSON.stringify(mod)}; console.log((await hostCommand('echo', ['ok'])).stdout.trim());`], { encoding: 'utf8', timeout: 20_000 });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, 'ok\n');
});
