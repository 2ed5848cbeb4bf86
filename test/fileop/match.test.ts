/** Go filepath.Match rules for COPY wildcards and chmod(1) symbolic modes for --chmod. */
import test from 'ava';
import { goMatch, parseChmod } from '../../src/fileop/index.js';

const matches: Array<[string, string, boolean]> = [
  ['*.txt', 'a.txt', true],
  ['*.txt', 'dir/a.txt', false], // * never crosses "/"
  ['*', '.hidden', true], // unlike shells, Go's * matches a leading dot
  ['a?c', 'abc', true],
  ['a?c', 'a/c', false],
  ['[a-c]x', 'bx', true],
  ['[^a-c]x', 'bx', false],
  ['[!a-c]x', 'dx', true],
  ['[\\]]', ']', true],
  ['\\*', '*', true],
  ['\\*', 'a', false],
  ['[', '[', false], // malformed patterns match nothing
  ['a[', 'a[', false],
  ['*/b', 'a/b', true],
];
for (const [p, s, want] of matches) test(`goMatch(${JSON.stringify(p)}, ${JSON.stringify(s)}) = ${want}`, (t) => t.is(goMatch(p, s), want));

const modes: Array<[string | number, number, boolean, number]> = [
  [0o755, 0o600, false, 0o755],
  ['0640', 0o777, false, 0o640],
  ['u+x', 0o644, false, 0o744],
  ['+x', 0o644, false, 0o755],
  ['g-w,o-rwx', 0o775, false, 0o750],
  ['u=rw,go=r', 0o777, false, 0o644],
  ['a-w', 0o666, false, 0o444],
  ['go=u', 0o740, false, 0o777],
  ['a+X', 0o644, false, 0o644],
  ['a+X', 0o644, true, 0o755],
  ['a+X', 0o744, false, 0o755],
  ['u+s', 0o755, false, 0o4755],
  ['+t', 0o755, true, 0o1755],
];
for (const [spec, src, isDir, want] of modes) {
  test(`chmod ${String(spec)} on ${src.toString(8)}${isDir ? ' dir' : ''} = ${want.toString(8)}`, (t) => t.is(parseChmod(spec)!(src, isDir), want));
}

test('chmod: invalid symbolic modes are rejected', (t) => {
  for (const bad of ['u+q', 'x+r', '99999', 'u+x,,']) t.throws(() => parseChmod(bad), undefined, bad);
});
