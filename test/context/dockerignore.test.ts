import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createContextHasher } from '../../src/context/checksum.js';
import { cleanPath, createIgnoreMatcher, parseDockerignore, readDockerignore } from '../../src/context/dockerignore.js';

test('parses lines: comments, blanks, trimming, cleaning, leading slash, exceptions', (t) => {
  t.deepEqual(parseDockerignore('# c\n\n  a  \n/b\n./c/../d\n!e\n! f/\n#!g\nh//i/\n/\n\\#x\n'), ['a', 'b', 'd', '!e', '!f', 'h/i', '/', '\\#x']);
});

test('cleans paths like Go', (t) => {
  const cases: Array<[string, string]> = [['a/./b', 'a/b'], ['a/../../b', '../b'], ['/../a', '/a'], ['', '.'], ['a//b/', 'a/b'], ['./', '.']];
  for (const [i, o] of cases) t.is(cleanPath(i), o, i);
});

const MATCH: Array<[string[], string, boolean]> = [
  [['*.log'], 'a.log', true],
  [['*.log'], 'dir/a.log', false],
  [['**/*.log'], 'dir/sub/a.log', true],
  [['**/*.log'], 'a.log', true],
  [['dir'], 'dir/anything/below', true],
  [['dir/*'], 'dir', false],
  [['dir/*'], 'dir/x', true],
  [['dir/*'], 'dir/x/y', true],
  [['a?c'], 'abc', true],
  [['a?c'], 'a/c', false],
  [['[a-c]x'], 'bx', true],
  [['[a-c]x'], 'dx', false],
  [['[^a-c]x'], 'dx', true],
  [['[!a-c]x'], 'bx', true], // `!` is a class member, not a negation (see REGEX_QUIRKS)
  [['\\*x'], '*x', true],
  [['\\*x'], 'ax', false],
  [['*', '!keep'], 'keep', false],
  [['*', '!keep'], 'other', true],
  [['!keep', '*'], 'keep', true],
  [['docs', '!docs/readme.md'], 'docs/readme.md', false],
  [['docs', '!docs/readme.md'], 'docs/other.md', true],
  [['**'], 'anything/at/all', true],
  [['a/**/z'], 'a/z', true],
  [['a/**/z'], 'a/b/c/z', true],
  [['a/**/z'], 'b/z', false],
  [['a/**'], 'a/b', true],
  [['.git'], '.git/config', true],
  [['*/temp*'], 'x/temporary', true],
  [['*/temp*'], 'x/y/temp', false],
  [['temp?'], 'temp', false],
  [['node_modules'], 'src/node_modules/x', false],
  [['**/node_modules'], 'src/node_modules/x', true],
  [['a.txt'], 'a.txt', true],
  [['a.txt'], 'a_txt', false],
  [['*.go', '!main.go'], 'main.go', false],
  [['*.go', '!main.go', 'main.go'], 'main.go', true],
];
for (const [patterns, file, want] of MATCH) {
  test(`match ${JSON.stringify(patterns)} ${file} -> ${want}`, (t) => t.is(createIgnoreMatcher(parseDockerignore(patterns.join('\n'))).matches(file), want));
}

/**
 * Each row is .dockerignore text, a file in the context, and whether it is excluded. Every row
 * was confirmed one by one against Docker 26's BuildKit: a context holding just that file and
 * that .dockerignore, built `FROM scratch` + `COPY . /` with `-o type=local`, then checked for
 * the file in the output.
 */
const BUILDKIT_CONFIRMED: Array<[string, string, boolean]> = [
  ["*", "a/b", true],
  ["a/b", "a/b/c/d", true],
  ["a/b", "a/x", false],
  ["**/b", "b", true],
  ["**/b", "x/y/b/z", true],
  ["a/*/c", "a/b/c", true],
  ["a/*/c", "a/b/x/c", false],
  ["[a-c]", "b/x", true],
  ["\\[x]", "[x]", true],
  ["a\\?", "a?", true],
  ["a\\?", "ab", false],
  ["?", "a", true],
  ["?", "ab", false],
  ["dir/", "dir/x", true],
  ["!dir", "dir", false],
  ["**/*.txt\n!**/keep.txt", "x/keep.txt", false],
  ["**/*.txt\n!**/keep.txt", "x/y.txt", true],
  ["a\n!a/b\na/b/c", "a/b/c", true],
  ["a\n!a/b\na/b/c", "a/b/d", false],
  ["a\n!a/b\na/b/c", "a/x", true],
  ["*.[ch]", "x.c", true],
  ["*.[ch]", "x.o", false],
  ["x[0-9][0-9]", "x42", true],
  ["x[0-9][0-9]", "x4a", false],
  [".*", ".env", true],
  [".*", "a/.env", false],
  ["**/.*", "a/.env", true],
  ["a/**/b/*.js", "a/x/y/b/c.js", true],
  ["foo*bar", "foo/bar", false],
  ["foo*bar", "fooXbar", true],
  ["[^x]y", "zy", true],
  ["[^x]y", "xy", false],
  ["a/../b", "b", true],
  ["  spaced  ", "spaced", true],
];
for (const [text, file, excluded] of BUILDKIT_CONFIRMED) {
  test(`buildkit: ${JSON.stringify(text)} ${file} -> ${excluded}`, (t) => t.is(createIgnoreMatcher(parseDockerignore(text)).matches(file), excluded));
}

test('canSkipDir: only when no exception starts with the directory path (Docker\'s walker rule)', (t) => {
  const m = createIgnoreMatcher(parseDockerignore('node_modules\nbuild/*\n!build/keep\n'));
  t.true(m.canSkipDir('node_modules'));
  t.false(m.canSkipDir('build'));
  t.true(m.canSkipDir('build/out'));
  t.true(createIgnoreMatcher(['x', '!**/keep']).canSkipDir('x'));
  t.false(createIgnoreMatcher(['x', '!x/*/keep']).canSkipDir('x'));
  t.true(createIgnoreMatcher(['x', '!x/*/keep']).canSkipDir('x/a'));
});

/** Each of these makes Docker 26's build fail ("syntax error in pattern"), confirmed. */
const INVALID = ['[abc', 'abc\\', 'a[', '\\l', 'x)', '[z-a]'];
for (const pattern of INVALID) {
  test(`invalid pattern ${pattern} is reported with a code`, (t) => {
    const err = t.throws(() => createIgnoreMatcher([pattern])) as { code?: string };
    t.is(err.code, 'ERR_TSBUILD_DOCKERIGNORE');
  });
}

/**
 * patternmatcher passes everything but `* ? . $ \\` straight into a Go regular expression; these
 * rows were confirmed one by one on Docker 26 as above.
 */
const REGEX_QUIRKS: Array<[string, string, boolean]> = [
  ['[!a-c]x', 'ax', true],
  ['[!a-c]x', 'dx', false],
  ['[!a-c]x', '!x', true],
  ['a+b', 'aab', true],
  ['a+b', 'a+b', false],
  ['(a)', 'a', true],
  ['(a)', '(a)', false],
  ['\\d', '1', true],
  ['\\d', 'd', false],
  ['a{2}', 'aa', true],
  ['a{2}', 'a{2}', false],
  ['x^', 'x^', false],
  ['a.b', 'axb', false],
  ['[a-c]*', 'b/x/y', true],
  ['**', 'a', true],
  ['a/**', 'a', false],
  ['**/x/**', 'p/x/q', true],
  ['[[:digit:]]x', '5x', true],
  ['(?i)ab', 'AB', false],
  ['  #foo', '#foo', true],
  ['#bar', '#bar', false],
];
for (const [text, file, excluded] of REGEX_QUIRKS) {
  test(`quirk: ${JSON.stringify(text)} ${file} -> ${excluded}`, (t) => t.is(createIgnoreMatcher(parseDockerignore(text)).matches(file), excluded));
}

/**
 * What Docker 26 (20.10 client) sent for small trees, `-o type=local` as above: an excluded
 * directory is walked only when an exception's text starts with its path, and then it is sent
 * itself even if nothing below comes back.
 */
const WALKS: Array<[string, string[], string[]]> = [
  ['x\n!**/keep', ['x/keep', 'x/other', 'x/a/keep'], ['.dockerignore']],
  ['x\n!x/*/keep', ['x/a/keep', 'x/a/other'], ['.dockerignore', 'x']],
  ['x*\n!x1/keep', ['x1/keep', 'x1/o'], ['.dockerignore', 'x1', 'x1/keep']],
  ['*\n!*/keep', ['a/keep', 'a/o'], []],
  ['x/**\n!x/a/keep', ['x/a/keep', 'x/a/o', 'x/b'], ['.dockerignore', 'x', 'x/a', 'x/a/keep']],
];
for (const [ignore, files, sent] of WALKS) {
  test(`walk ${JSON.stringify(ignore)} sends what Docker sends`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ignore-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    for (const f of files) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await writeFile(path.join(dir, f), f);
    }
    await writeFile(path.join(dir, '.dockerignore'), ignore);
    const m = createIgnoreMatcher((await readDockerignore(dir)).patterns);
    const hasher = createContextHasher({ contextDir: dir, exclude: (p, isDir) => m.excludes(p, isDir), canSkipDir: (p) => m.canSkipDir(p) });
    t.deepEqual((await hasher.entries()).map((e) => e.path).sort(), sent);
  });
}

/**
 * A real walk. The expected listing was taken from Docker 26's BuildKit: the same tree and
 * .dockerignore, built `FROM scratch` + `COPY . /` with `-o type=local` (Dockerfile outside the
 * context).
 */
const TREE = [
  'README.md', 'main.go', 'main_test.go', 'src/app.js', 'src/app.test.js', 'src/lib/util.js', 'node_modules/pkg/index.js',
  'docs/api/x.md', 'docs/intro.md', 'build/keep/.gitkeep', 'build/out/bin', 'a/b/c/deep.txt', 'a/b/c/deep.log', 'a/top.log',
  'test/sp ace.txt', 'test/x1.txt', 'test/xy.txt', '.env', 'Dockerfile',
];
const IGNORE = '# comment\nnode_modules\n**/*.log\n!a/b/c/deep.log\nbuild/*\n!build/keep\n*_test.go\n/docs/api\n./test/x?.txt\nsrc/**/*.test.js\n.env\nDockerfile\n';
const BUILDKIT_SEES = [
  '.dockerignore', 'README.md', 'a', 'a/b', 'a/b/c', 'a/b/c/deep.log', 'a/b/c/deep.txt', 'build', 'build/keep', 'build/keep/.gitkeep',
  'docs', 'docs/intro.md', 'main.go', 'src', 'src/app.js', 'src/lib', 'src/lib/util.js', 'test', 'test/sp ace.txt',
];

test('a context walk includes exactly what BuildKit sends', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ignore-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const f of TREE) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), f);
  }
  await writeFile(path.join(dir, '.dockerignore'), IGNORE);
  const { patterns, file } = await readDockerignore(dir);
  t.is(file, path.join(dir, '.dockerignore'));
  const m = createIgnoreMatcher(patterns);
  const hasher = createContextHasher({ contextDir: dir, exclude: (p, isDir) => m.excludes(p, isDir), canSkipDir: (p) => m.canSkipDir(p) });
  t.deepEqual((await hasher.entries()).map((e) => e.path).sort(), BUILDKIT_SEES);
});

test('<Dockerfile>.dockerignore beside the Dockerfile wins over the context one', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ignore-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, '.dockerignore'), 'from-context\n');
  await mkdir(path.join(dir, 'docker'));
  await writeFile(path.join(dir, 'docker', 'app.Dockerfile.dockerignore'), 'from-specific\n');
  t.deepEqual((await readDockerignore(dir, path.join(dir, 'docker', 'app.Dockerfile'))).patterns, ['from-specific']);
  t.deepEqual((await readDockerignore(dir, path.join(dir, 'docker', 'other.Dockerfile'))).patterns, ['from-context']);
  t.deepEqual((await readDockerignore(path.join(dir, 'docker'))).patterns, []);
});
