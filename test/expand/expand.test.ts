/**
 * Word expansion, table-driven. Every row of the two BuildKit tables was confirmed against
 * Docker 26's BuildKit (the peer lab): each expression was written as `LABEL lNNN=<expr>` and
 * the label values read back with `docker image inspect`.
 */
import test from 'ava';
import { expandEnvPairs, expandWord, expandWords } from '../../src/parser/expand.js';

/** Env: V=hello_world E= P=/usr/local/bin:/usr/bin NUM=100200; escape character `\`. */
const BUILDKIT_BACKSLASH: Array<[string, string]> = [
  ["$V", "hello_world"],
  ["${V}", "hello_world"],
  ["pre${V}post", "prehello_worldpost"],
  ["$V$V", "hello_worldhello_world"],
  ["$UNSET", ""],
  ["${UNSET}", ""],
  ["x${UNSET}y", "xy"],
  ["${V:-def}", "hello_world"],
  ["${UNSET:-def}", "def"],
  ["${E:-def}", "def"],
  ["${V-def}", "hello_world"],
  ["${UNSET-def}", "def"],
  ["${E-def}", ""],
  ["${V:+alt}", "alt"],
  ["${UNSET:+alt}", ""],
  ["${E:+alt}", ""],
  ["${V+alt}", "alt"],
  ["${UNSET+alt}", ""],
  ["${E+alt}", "alt"],
  ["${V#hel}", "lo_world"],
  ["${V#*l}", "lo_world"],
  ["${V##*l}", "d"],
  ["${V%world}", "hello_"],
  ["${V%o*}", "hello_w"],
  ["${V%%o*}", "hell"],
  ["${V#nomatch}", "hello_world"],
  ["${V%nomatch}", "hello_world"],
  ["${V/o/0}", "hell0_world"],
  ["${V//o/0}", "hell0_w0rld"],
  ["${V/l*/L}", "heL"],
  ["${V//l/}", "heo_word"],
  ["${V/x/y}", "hello_world"],
  ["${P#*/}", "usr/local/bin:/usr/bin"],
  ["${P##*/}", "bin"],
  ["${P%/*}", "/usr/local/bin:/usr"],
  ["${P%%:*}", "/usr/local/bin"],
  ["${P//\\//|}", "|usr|local|bin:|usr|bin"],
  ["${P/#\\/usr/X}", "/usr/local/bin:/usr/bin"],
  ["'$V'", "$V"],
  ["\"$V\"", "hello_world"],
  ["\"${V} and '$V'\"", "hello_world and 'hello_world'"],
  ["'\"$V\"'", "\"$V\""],
  ["\\$V", "$V"],
  ["\"\\$V\"", "$V"],
  ["\"a\\\"b\"", "a\"b"],
  ["\"a\\b\"", "a\\b"],
  ["a\\ b", "a b"],
  ["\\\\", "\\"],
  ["\"\\\\\"", "\\"],
  ["$", "$"],
  ["$$", ""],
  ["$1", ""],
  ["${1}", ""],
  ["$@", ""],
  ["a$", "a$"],
  ["a$-b", "ab"],
  ["${V:-$E}", "hello_world"],
  ["${UNSET:-${V}}", "hello_world"],
  ["${UNSET:-\"quoted $V\"}", "quoted hello_world"],
  ["${UNSET:-'single $V'}", "single $V"],
  ["${V:+\"x y\"}", "x y"],
  ["\"${UNSET:-a b}\"", "a b"],
  ["${V#h?l}", "lo_world"],
  ["${V#[gh]e}", "hello_world"],
  ["${V%[a-z]}", "hello_world"],
  ["${V%%[a-z]*}", "hello_world"],
  ["${V/[lo]/_}", "hello_world"],
  ["${V//[lo]/_}", "hello_world"],
  ["${V//?/.}", "..........."],
  ["${V:-}", "hello_world"],
  ["${UNSET:-}", ""],
  ["${UNSET+}", ""],
  ["${V/hello/}", "_world"],
  ["\"${V//_/ }\"", "hello world"],
  ["${V:-a}b${V:+c}", "hello_worldbc"],
  ["${V}${UNSET}${E}", "hello_world"],
  ["$V_suffix", ""],
  ["${V}_suffix", "hello_world_suffix"],
  ["$V-suffix", "hello_world-suffix"],
  ["$V.suffix", "hello_world.suffix"],
  ["${NUM}", "100200"],
  ["${NUM#0}", "100200"],
  ["${NUM##*0}", ""],
  ["${V%?}", "hello_worl"],
  ["${V#?}", "ello_world"],
  ["${V%%?}", "hello_worl"],
  ["${V##?}", "ello_world"],
  ["${V/*/all}", "all"],
  ["${V//*/all}", "all"],
  ["${V/#hello/HI}", "hello_world"],
  ["${V/%world/WORLD}", "hello_world"],
  ["${V:-${UNSET:-deep}}", "hello_world"],
  ["\"$UNSET\"", ""],
  ["\"\"", ""],
  ["''", ""],
  ["a\"\"b", "ab"],
  ["a''b", "ab"],
  ["${V:-x}${V:-y}", "hello_worldhello_world"],
  ["${U:-${U:-${V}}}", "hello_world"],
  ["${V%_*}_${V#*_}", "hello_world"],
  ["${V/_/${V}}", "hellohello_worldworld"],
  ["\"${V:+a'b'c}\"", "abc"],
  ["'${V}'\"${V}\"", "${V}hello_world"],
  ["${V%%_*}${NUM%%0*}", "hello1"],
  ["${NUM/0/}", "10200"],
  ["${NUM//0/}", "12"],
  ["${NUM#*0}", "0200"],
  ["${NUM%0*}", "10020"],
  ["$V$E$V", "hello_worldhello_world"],
  ["${E:-empty}${E-unset}", "empty"],
];

/** Env: V=x*y?z W="a b  c"; `# escape=`` (backtick). */
const BUILDKIT_BACKTICK: Array<[string, string]> = [
  ["$V", "x*y?z"],
  ["\"$V\"", "x*y?z"],
  ["${V#*\\*}", "y?z"],
  ["${V%\\?*}", "x*y"],
  ["${V/\\*/STAR}", "xSTARy?z"],
  ["${V//[*]/S}", "x*y?z"],
  ["${V#x}", "*y?z"],
  ["${V%z}", "x*y?"],
  ["`$V", "$V"],
  ["\"`$V\"", "$V"],
  ["\"a`\"b\"", "a\"b"],
  ["a`b", "ab"],
  ["\"a`b\"", "a`b"],
  ["'a`b'", "a`b"],
  ["``", "`"],
  ["${U:-`$V}", "$V"],
  ["${U:-\"`$V\"}", "$V"],
  ["${V:+`}}", "}"],
  ["${W}", "a b  c"],
  ["\"${W}\"", "a b  c"],
  ["$W$V", "a b  cx*y?z"],
  ["${V}${W}", "x*y?za b  c"],
  ["${W:+set}", "set"],
  // In a pattern the escape directive's backtick is kept as a literal character: only a
  // backslash escapes wildcards there.
  ["${V#*`*}", "x*y?z"],
  ["${V/`?/Q}", "x*y?z"],
  ["\"${V%%`?*}\"", "x*y?z"],
];

const env1 = new Map([['V', 'hello_world'], ['E', ''], ['P', '/usr/local/bin:/usr/bin'], ['NUM', '100200']]);
const env2 = new Map([['V', 'x*y?z'], ['W', 'a b  c']]);

for (const [expr, want] of BUILDKIT_BACKSLASH) {
  test(`expand ${expr}`, (t) => t.is(expandWord(expr, env1).word, want));
}
for (const [expr, want] of BUILDKIT_BACKTICK) {
  test(`expand (backtick) ${expr}`, (t) => t.is(expandWord(expr, env2, '`').word, want));
}

/**
 * More rows confirmed the same way (Docker 26, `ENV V=hello_world`, U unset), covering BuildKit's
 * quirks: quotes in a pattern do not make wildcards literal, a pattern escape may only protect
 * `*`, `?`, `\\`, `}` or `/`, replacements keep their escapes, `//` replaces like Go's
 * ReplaceAllString (`$1` refers to a group, so it vanishes), positional names take every digit,
 * and in 0.13 a colon before `#`/`%` is ignored.
 */
const BUILDKIT_QUIRKS: Array<[string, string]> = [
  ["$#", ""],
  ["$?", ""],
  ["${*}", ""],
  ["$_x", ""],
  ["${V_}", ""],
  ["$V-x", "hello_world-x"],
  ["${V:-a}}", "hello_world}"],
  ["${V:+${U:-n}}", "n"],
  ["${U:-${V:+in}}", "in"],
  ["${V/#h/H}", "hello_world"],
  ["${V/%d/D}", "hello_world"],
  ["${U//a/b}", ""],
  ["${V##}", "hello_world"],
  ["${V%%}", "hello_world"],
  ["${V#*}", "hello_world"],
  ["${V%*}", "hello_world"],
  ["${V-}", "hello_world"],
  ["${U-}", ""],
  ["${V:-'}'}", "hello_world"],
  ["${U:-\\}}", "}"],
  ["\"$\"", "$"],
  ["'$'", "$"],
  ["a\"b\"'c'd", "abcd"],
  ["${V/\"l\"/L}", "heLlo_world"],
  ["${V/'*'/S}", "S"],
  ["${V///x}", "xhxexlxlxox_xwxoxrxlxdx"],
  ["${V/o/\\}}", "hell\\}_world"],
  ["${V/o/\\x}", "hell\\x_world"],
  ["${V//o/$$}", "hell_wrld"],
  ["${V//o/\\$1}", "hell\\_w\\rld"],
  ["${V//o/\\$\\{x\\}}", "hell\\$\\{x\\}_w\\$\\{x\\}rld"],
  ["${V/o/\\$1}", "hell\\$1_world"],
  ["$12", ""],
  ["$1a", "a"],
  ["${12}", ""],
  ["${V#'h'e}", "llo_world"],
  ["${V#\"h*\"}", "ello_world"],
  ["${V#\"\\*\"}", "hello_world"],
  ["${V%%\"l*\"}", "he"],
  ["${V#\\\\}", "hello_world"],
  ["${V#?}", "ello_world"],
  ["${V##'#'}", "hello_world"],
  ["${V:#x}", "hello_world"],
  ["${V:%x}", "hello_world"],
  ["${V/l/\"a b\"}", "hea blo_world"],
  ["${V//l/'$V'}", "heo_word"],
  ["${V:#h}", "ello_world"],
  ["${V:%d}", "hello_worl"],
  ["${V:##*o}", "rld"],
  ["${U:#h}", ""],
];
for (const [expr, want] of BUILDKIT_QUIRKS) {
  test(`expand (quirk) ${expr}`, (t) => t.is(expandWord(expr, env1).word, want));
}
test('names may hold any Unicode letter ($héllo, confirmed)', (t) => t.is(expandWord('$héllo', new Map([['héllo', 'U']])).word, 'U'));

/** Errors, confirmed the same way (the build fails with these messages). */
const ERRORS: Array<[string, RegExp]> = [
  ['${U:?}', /U: is not allowed to be unset/],
  ['${E:?}', /E: is not allowed to be empty/],
  ['${U?}', /U: is not allowed to be unset/],
  ['${U:?custom}', /U: custom/],
  ['${V', /missing|unsupported/],
  ['${}', /bad substitution/],
  ['${V!}', /unsupported modifier \(!\)/],
  ['${V:=x}', /unsupported modifier \(:=\)/],
  ['${V//l}', /missing '\/'/],
  ["'unterminated", /matching single-quote/],
  ['"unterminated', /matching double-quote/],
  ["${#V}", /unsupported modifier \(V\)/],
  ["${V:0:2}", /unsupported modifier \(:0\)/],
  ["${V:1}", /unsupported modifier \(:1\)/],
  ["${V//}", /missing '\/'/],
  ["${V/}", /missing '\/'/],
  ["$V${", /missing '}'/],
  ["${V//\\l/L}", /invalid escape '\\l'/],
  ["${V#\\h}", /invalid escape '\\h'/],
  ["${{V}}", /bad substitution/],
  ["${:V}", /bad substitution/],
  ["${V:/o/0}", /unsupported modifier \(:\/\)/],
  ["${V:x}", /unsupported modifier \(:x\)/],
];
const envErr = new Map([['V', 'v'], ['E', '']]);
for (const [expr, message] of ERRORS) {
  test(`error ${expr}`, (t) => {
    const err = t.throws(() => expandWord(expr, envErr)) as { code?: string; message: string };
    t.is(err.code, 'ERR_TSBUILD_EXPAND');
    t.regex(err.message, message);
  });
}
test('${E?} with E set but empty is fine', (t) => t.is(expandWord('${E?}', envErr).word, ''));

/**
 * Word splitting (ProcessWords), as EXPOSE uses it: `EXPOSE $P "8$P"` with P="80 443" gives 80, 443 and "880 443".
 * Empty words are dropped: confirmed with `EXPOSE 80 ""` (80 only), `EXPOSE "$U" 82`, `EXPOSE 8'' 9""0` (8 and 90), `EXPOSE 8${U:-1}` (81).
 */
const WORDS: Array<[string, string[]]> = [
  ['$P "8$P"', ['80', '443', '880 443']],
  ['a b   c', ['a', 'b', 'c']],
  ['"a b" c', ['a b', 'c']],
  ["'a  b'c d", ['a  bc', 'd']],
  ['a\\ b c', ['a b', 'c']],
  ['""', []],
  ["'' x", ['x']],
  ['"$UNSET" 82', ['82']],
  ["8'' 9\"\"0", ['8', '90']],
  ['8${UNSET:-1}', ['81']],
  ['$P', ['80', '443']],
  ['$UNSET', []],
  ['"$UNSET"', []],
  ['x$UNSET y', ['x', 'y']],
  ['  lead  trail  ', ['lead', 'trail']],
  ['$P$P', ['80', '44380', '443']],
  ['"$P"$P', ['80 44380', '443']],
];
const envWords = new Map([['P', '80 443']]);
for (const [expr, want] of WORDS) {
  test(`words ${JSON.stringify(expr)}`, (t) => t.deepEqual(expandWords(expr, envWords).words, want));
}

test('reports matched and unmatched names', (t) => {
  const r = expandWord('$A ${B:-x} ${C+y} $A', new Map([['A', '1'], ['C', '']]));
  t.deepEqual([...r.matched].sort(), ['A', 'C']);
  t.deepEqual([...r.unmatched], ['B']);
  t.is(r.word, '1 x y 1');
});

test('a function env works like a map', (t) => {
  t.is(expandWord('${X:-d}-$Y', (n) => (n === 'Y' ? 'y' : undefined)).word, 'd-y');
});

/**
 * Confirmed on Docker 26: after `ENV a=old`, `ENV a=new b=$a` gives b=old; `ARG x=1 y=$x` gives
 * y="" and `LABEL m1=one m2=$m1` gives m2="": every pair sees the env from before the instruction.
 */
test('expandEnvPairs: all values see the env from before the instruction', (t) => {
  const env = new Map([['a', 'old']]);
  const r = expandEnvPairs([['a', 'new'], ['b', '$a']], env);
  t.deepEqual(r.pairs, [['a', 'new'], ['b', 'old']]);
  t.deepEqual([...r.matched], ['a']);
  const args = expandEnvPairs([['x', '1'], ['y', '$x']], new Map());
  t.deepEqual(args.pairs, [['x', '1'], ['y', '']]);
  t.deepEqual([...args.unmatched], ['x']);
  t.deepEqual(expandEnvPairs([['m1', 'one'], ['m2', '${m1:-unset}']], new Map()).pairs, [['m1', 'one'], ['m2', 'unset']]);
});

test('expandEnvPairs: the escape character and errors carry through', (t) => {
  t.deepEqual(expandEnvPairs([['k', '`$v']], new Map([['v', 'x']]), '`').pairs, [['k', '$v']]);
  const err = t.throws(() => expandEnvPairs([['k', '${v:?need v}']], new Map())) as { code?: string };
  t.is(err.code, 'ERR_TSBUILD_EXPAND');
});

/** Confirmed with `--build-arg V=$'a\nb'`: wildcards never match a newline (Go's `.`). */
test('wildcards stop at newlines', (t) => {
  const env = new Map([['V', 'a\nb']]);
  t.is(expandWord('${V##*}', env).word, '\nb');
  t.is(expandWord('${V%%?*}', env).word, 'a\n');
  t.is(expandWord('${V//?/.}', env).word, '.\n.');
});
