import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { BuildGraph, ExecOp, FileOp } from '../../src/graph/index.js';
import { parseDockerfile } from '../../src/parser/index.js';
import { planBuild, renderDot, renderMermaid, type PlanOptions } from '../../src/plan/index.js';

const plan = (text: string, opts: Omit<PlanOptions, 'ast'> = {}) => planBuild({ ast: parseDockerfile(text, { file: 'Dockerfile' }), ...opts });
const execs = (g: BuildGraph) => Object.values(g.vertices).filter((v) => v.op.kind === 'exec').map((v) => v.op as ExecOp);
const runText = (g: BuildGraph) => execs(g).map((o) => o.args.at(-1));

test('unused stages are pruned: a failing RUN in an unused stage never enters the graph', async (t) => {
  const text = readFileSync('fixtures/plan/unused-stage/Dockerfile', 'utf8');
  const g = await plan(text);
  t.deepEqual(g.stages.map((s) => s.name), ['base', 'tools', 'final']);
  t.false(runText(g).includes('exit 1'));
  t.deepEqual(runText(g), ['echo base > /base.txt']);
  t.is(g.target.name, 'final');
});

test('--target stops at the named stage (case-insensitive) and plans only what it needs', async (t) => {
  const text = readFileSync('fixtures/plan/unused-stage/Dockerfile', 'utf8');
  const g = await plan(text, { target: 'TOOLS' });
  t.deepEqual(g.stages.map((s) => s.name), ['tools']);
  t.is(g.target.name, 'tools');
  const broken = await plan(text, { target: 'broken' });
  t.deepEqual(runText(broken).sort(), ['echo base > /base.txt', 'exit 1']);
  const err = await t.throwsAsync(plan(text, { target: 'nope' }));
  t.is((err as { code?: string }).code, 'ERR_TSBUILD_TARGET_NOT_FOUND');
});

test('op digests come from definitions, not from comments, whitespace or case of keywords', async (t) => {
  const a = await plan('FROM busybox\nRUN echo hi\nCOPY a /b\n');
  const b = await plan('# a comment\nfrom   busybox\n\n# another\nrun echo hi\ncopy   a    /b\n');
  t.deepEqual(Object.keys(a.vertices).sort(), Object.keys(b.vertices).sort());
  t.is(a.target.root, b.target.root);
  const c = await plan('FROM busybox\nRUN echo hi!\nCOPY a /b\n');
  t.not(a.target.root, c.target.root);
});

test('identical ops deduplicate across stages', async (t) => {
  const g = await plan('FROM busybox AS a\nRUN echo same\nFROM busybox AS b\nRUN echo same\nFROM busybox\nCOPY --from=a /x /x\nCOPY --from=b /y /y\n');
  t.is(execs(g).length, 1);
});

test('ENV: every value sees the scope from before the instruction', async (t) => {
  const g = await plan('FROM busybox\nENV a=old\nENV a=1 b=$a\nRUN echo\n');
  t.true(g.target.config.Env!.includes('a=1'));
  t.true(g.target.config.Env!.includes('b=old'));
});

test('global ARGs reach FROM only; a stage re-declaration without value picks up the global default', async (t) => {
  const g = await plan('ARG TAG=1.36\nARG OTHER=x\nFROM busybox:${TAG}\nARG OTHER\nRUN echo $TAG $OTHER\nLABEL tag=${TAG} other=${OTHER}\n');
  const src = Object.values(g.vertices).find((v) => v.op.kind === 'source.image')!;
  t.is((src.op as { ref: string }).ref, 'docker.io/library/busybox:1.36');
  t.deepEqual(g.target.config.Labels, { tag: '', other: 'x' });
  t.true(execs(g)[0]!.env.includes('OTHER=x'));
  t.false(execs(g)[0]!.env.some((e) => e.startsWith('TAG=')));
});

test('--build-arg overrides defaults; ENV wins over ARG; unused build args are reported', async (t) => {
  const g = await plan('FROM busybox\nARG V=default\nARG W=w\nENV W=from-env\nLABEL v=$V w=$W\nRUN echo\n', { buildArgs: { V: 'cli', UNUSED: '1', HTTP_PROXY: 'http://p' } });
  t.deepEqual(g.target.config.Labels, { v: 'cli', w: 'from-env' });
  t.deepEqual(g.unusedBuildArgs, ['UNUSED']);
  const env = execs(g)[0]!.env;
  t.true(env.includes('V=cli'));
  t.true(env.includes('W=from-env'));
  t.false(env.some((e) => e.startsWith('HTTP_PROXY')), 'proxy args stay out of the op');
  t.false(g.target.history.some((h) => h.created_by.includes('http://p')));
});

test('build args used by RUN change its identity and appear in history as BuildKit writes them', async (t) => {
  const a = await plan('FROM busybox\nARG V=1\nRUN echo $V\n');
  const b = await plan('FROM busybox\nARG V=1\nRUN echo $V\n', { buildArgs: { V: '2' } });
  t.not(a.target.root, b.target.root);
  t.is(a.target.history.at(-1)!.created_by, 'RUN |1 V=1 /bin/sh -c echo $V # buildkit');
});

test('predefined platform args: usable in FROM, and in a stage after ARG NAME', async (t) => {
  const g = await plan('FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\nARG TARGETPLATFORM\nLABEL arch=$TARGETARCH plat=$TARGETPLATFORM os=$TARGETOS\n', {
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    buildPlatform: { os: 'linux', architecture: 'amd64' },
  });
  t.deepEqual(g.target.config.Labels, { arch: 'arm64', plat: 'linux/arm64/v8', os: '' });
  t.deepEqual(g.target.platform, { os: 'linux', architecture: 'amd64' });
});

test('expansion applies to COPY/WORKDIR/USER/EXPOSE/VOLUME/STOPSIGNAL, never inside RUN/CMD text', async (t) => {
  const g = await plan('FROM busybox\nENV D=/app U=1000 P="80 443" S=SIGINT\nWORKDIR $D\nUSER ${U}\nEXPOSE $P 9000-9001/udp\nVOLUME $D/data\nSTOPSIGNAL $S\nCOPY src $D/\nRUN echo $D\nCMD echo $D\n');
  const c = g.target.config;
  t.is(c.WorkingDir, '/app');
  t.is(c.User, '1000');
  t.deepEqual(Object.keys(c.ExposedPorts!).sort(), ['443/tcp', '80/tcp', '9000/udp', '9001/udp']);
  t.deepEqual(Object.keys(c.Volumes!), ['/app/data']);
  t.is(c.StopSignal, 'SIGINT');
  t.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo $D']);
  t.is(execs(g)[0]!.args.at(-1), 'echo $D');
  const copy = Object.values(g.vertices).find((v) => v.op.kind === 'file' && (v.op as FileOp).actions[0]!.action === 'copy')!;
  t.is(((copy.op as FileOp).actions[0] as { dest: string }).dest, '/app/');
});

test('ENTRYPOINT resets an inherited CMD but not one set in the same stage', async (t) => {
  const base = { ref: 'x', config: { Cmd: ['sh'], Env: ['PATH=/bin'] } };
  const g = await plan('FROM base\nENTRYPOINT ["run"]\n', { resolveImage: async () => base });
  t.is(g.target.config.Cmd, null);
  const h = await plan('FROM base\nCMD ["arg"]\nENTRYPOINT ["run"]\n', { resolveImage: async () => base });
  t.deepEqual(h.target.config.Cmd, ['arg']);
});

test('base image config feeds the stage: env, workdir, user; ONBUILD triggers run first and are cleared', async (t) => {
  const resolveImage = async () => ({ ref: 'docker.io/library/base:latest', config: { Env: ['PATH=/custom/bin', 'X=1'], WorkingDir: '/w', User: 'app', OnBuild: ['RUN echo trigger-one', 'ENV FROM_TRIGGER=yes'] } });
  const g = await plan('FROM base\nRUN echo mine\n', { resolveImage });
  t.deepEqual(runText(g).sort(), ['echo mine', 'echo trigger-one']);
  const mine = execs(g).find((e) => e.args.at(-1) === 'echo mine')!;
  t.is(mine.cwd, '/w');
  t.is(mine.user, 'app');
  t.true(mine.env.includes('PATH=/custom/bin'));
  t.true(mine.env.includes('FROM_TRIGGER=yes'));
  t.is(g.target.config.OnBuild, null);
});

test('re-setting an ENV keeps its place in Env (BuildKit replaces in place)', async (t) => {
  const g = await plan('FROM busybox\nENV A=1 B=2\nENV C=3\nENV A=changed\n');
  t.deepEqual(g.target.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=changed', 'B=2', 'C=3']);
});

test('CMD sets ArgsEscaped, as BuildKit does on every platform; ENTRYPOINT does not (Docker 26 lab)', async (t) => {
  t.is((await plan('FROM busybox\nLABEL a=b\n')).target.config.ArgsEscaped, undefined);
  t.is((await plan('FROM busybox\nCMD ["a"]\n')).target.config.ArgsEscaped, true);
  t.is((await plan('FROM busybox\nCMD echo\n')).target.config.ArgsEscaped, true);
  t.is((await plan('FROM busybox\nENTRYPOINT echo\n')).target.config.ArgsEscaped, undefined);
  t.is((await plan('FROM busybox\nENTRYPOINT ["/bin/echo"]\n')).target.config.ArgsEscaped, undefined);
});

test('ONBUILD records triggers in the config', async (t) => {
  const g = await plan('FROM busybox\nONBUILD RUN make\nONBUILD COPY . /src\n');
  t.deepEqual(g.target.config.OnBuild, ['RUN make', 'COPY . /src']);
});

test('RUN mounts: cache, bind from a stage, secret, tmpfs', async (t) => {
  const g = await plan(
    'FROM busybox AS b\nRUN true\nFROM busybox\nRUN --mount=type=cache,target=/root/.cache,sharing=locked,mode=0700 --mount=type=bind,from=b,source=/etc,target=/mnt --mount=type=secret,id=tok,env=TOKEN --mount=type=tmpfs,target=/t,size=64m echo\n',
  );
  const run = execs(g).find((e) => e.mounts.length > 0)!;
  t.deepEqual(run.mounts.map((m) => m.type), ['cache', 'bind', 'secret', 'tmpfs']);
  t.like(run.mounts[0], { id: '/root/.cache', sharing: 'locked', mode: 0o700 });
  t.like(run.mounts[3], { size: 64 * 1024 * 1024 });
  t.deepEqual(g.secrets, ['tok']);
});

test('heredoc RUN and COPY follow BuildKit semantics', async (t) => {
  const g = await plan('FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<conf.txt /etc/\nvalue=$HOME\nconf.txt\n');
  t.is(execs(g)[0]!.args.at(-1), 'echo one\necho two\n');
  const file = Object.values(g.vertices).map((v) => v.op).find((o): o is FileOp => o.kind === 'file' && o.actions.some((a) => a.action === 'mkfile'))!;
  t.like(file.actions[1], { action: 'mkfile', path: '/etc/conf.txt', data: 'value=\n' });
});

const fileOps = (g: BuildGraph) => Object.values(g.vertices).map((v) => v.op).filter((o): o is FileOp => o.kind === 'file');

test('COPY heredocs make their destination dir first (BuildKit creates it), chowned only with --chown (not to USER)', async (t) => {
  const g = await plan('FROM busybox\nUSER nobody\nCOPY <<A <<B /new/dir/\na\nA\nb\nB\nCOPY --chown=7:8 <<C /other/f\nc\nC\n');
  const multi = fileOps(g).find((o) => o.actions.length === 3);
  const owned = fileOps(g).find((o) => o.actions.length === 2);
  t.deepEqual(multi!.actions.map((a) => [a.action, 'path' in a ? a.path : a.dest]), [['mkdir', '/new/dir'], ['mkfile', '/new/dir/A'], ['mkfile', '/new/dir/B']]);
  // An empty user: no chown, the directory stays as made (compat fixture setgid-parents).
  t.like(multi!.actions[0], { parents: true, mode: 0o755, chown: { user: '' } });
  t.like(owned!.actions[0], { action: 'mkdir', path: '/other', chown: { user: '7', group: '8' } });
});

test('COPY/ADD wildcards may match nothing (BuildKit AllowEmptyWildcard)', async (t) => {
  const g = await plan('FROM busybox\nCOPY nothing-* /x/\nADD *.tar /y/\n');
  t.deepEqual(fileOps(g).map((o) => (o.actions[0] as { allowEmptyWildcard?: boolean }).allowEmptyWildcard), [true, true]);
});

const ERRORS: Array<[string, string, string, number]> = [
  ['unknown instruction', 'FROM busybox\nFROBNICATE x\n', 'ERR_TSBUILD_INSTRUCTION_UNKNOWN', 2],
  ['unknown COPY flag', 'FROM busybox\nCOPY --foo=1 a b\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['flag on an instruction without flags', 'FROM busybox\nENV --x=1 A=b\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['bad mount key', 'FROM busybox\nRUN --mount=type=cache,target=/x,colour=red true\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['bad mount type', 'FROM busybox\nRUN --mount=type=nfs,target=/x true\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['mount without target', 'FROM busybox\nRUN --mount=type=cache true\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['bad network', 'FROM busybox\nRUN --network=bridge true\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['bad chmod', 'FROM busybox\nCOPY --chmod=999 a b\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['bad boolean', 'FROM busybox\nCOPY --link=maybe a b\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['missing flag value', 'FROM busybox\nCOPY --from a b\n', 'ERR_TSBUILD_INSTRUCTION_FLAG', 2],
  ['bad EXPOSE port', 'FROM busybox\nEXPOSE 80/icmp\n', 'ERR_TSBUILD_INSTRUCTION_EXPOSE', 2],
  ['EXPOSE out of range', 'FROM busybox\nEXPOSE 70000\n', 'ERR_TSBUILD_INSTRUCTION_EXPOSE', 2],
  ['EXPOSE reversed range', 'FROM busybox\nEXPOSE 90-80\n', 'ERR_TSBUILD_INSTRUCTION_EXPOSE', 2],
  ['no FROM', 'RUN echo\n', 'ERR_TSBUILD_STAGE_NO_FROM', 1],
  ['only ARGs', 'ARG A=1\n', 'ERR_TSBUILD_STAGE_NO_FROM', 1],
  ['COPY --from a later stage', 'FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nFROM a\n', 'ERR_TSBUILD_STAGE_NOT_FOUND', 2],
  ['COPY --from a bad index', 'FROM busybox\nCOPY --from=5 /x /x\n', 'ERR_TSBUILD_STAGE_NOT_FOUND', 2],
  ['COPY --from itself', 'FROM busybox AS self\nCOPY --from=self /x /x\n', 'ERR_TSBUILD_STAGE_CYCLE', 2],
  ['FROM itself', 'FROM busybox AS a\nFROM a AS a2\nFROM a2 AS a2b\nFROM x AS x\n', 'ERR_TSBUILD_STAGE_CYCLE', 4],
  ['duplicate stage names', 'FROM busybox AS a\nFROM busybox AS A\n', 'ERR_TSBUILD_STAGE_NAME', 2],
  ['reserved name scratch', 'FROM busybox AS scratch\n', 'ERR_TSBUILD_STAGE_NAME', 1],
  ['reserved name context', 'FROM busybox AS context\n', 'ERR_TSBUILD_STAGE_NAME', 1],
  ['FROM with two words', 'FROM busybox other\n', 'ERR_TSBUILD_INSTRUCTION_ARGS', 1],
  ['HEALTHCHECK bad duration', 'FROM busybox\nHEALTHCHECK --interval=5x CMD true\n', 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 2],
  ['HEALTHCHECK too short', 'FROM busybox\nHEALTHCHECK --timeout=1us CMD true\n', 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 2],
  ['HEALTHCHECK negative retries', 'FROM busybox\nHEALTHCHECK --retries=-1 CMD true\n', 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 2],
  ['HEALTHCHECK NONE with args', 'FROM busybox\nHEALTHCHECK NONE x\n', 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 2],
  ['HEALTHCHECK unknown type', 'FROM busybox\nHEALTHCHECK RUN x\n', 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 2],
  ['HEALTHCHECK CMD without command', 'FROM busybox\nHEALTHCHECK CMD\n', 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 2],
  ['SHELL not JSON', 'FROM busybox\nSHELL /bin/bash -c\n', 'ERR_TSBUILD_INSTRUCTION_ARGS', 2],
  ['ONBUILD ONBUILD', 'FROM busybox\nONBUILD ONBUILD RUN x\n', 'ERR_TSBUILD_INSTRUCTION_ARGS', 2],
  ['ONBUILD FROM', 'FROM busybox\nONBUILD FROM x\n', 'ERR_TSBUILD_INSTRUCTION_ARGS', 2],
  ['COPY with one argument', 'FROM busybox\nCOPY onlyone\n', 'ERR_TSBUILD_INSTRUCTION_ARGS', 2],
  ['WORKDIR without argument', 'FROM busybox\nWORKDIR\n', 'ERR_TSBUILD_INSTRUCTION_ARGS', 2],
  ['bad expansion', 'FROM busybox\nENV A=${B:?must_be_set}\n', 'ERR_TSBUILD_EXPAND', 2],
  ['bad image reference', 'FROM BusyBox\n', 'ERR_TSBUILD_REFERENCE_INVALID', 1],
];
for (const [name, text, code, line] of ERRORS) {
  test(`error: ${name}`, async (t) => {
    const err = (await t.throwsAsync(plan(text))) as { code?: string; location?: { file: string; startLine: number } };
    t.is(err.code, code);
    t.is(err.location?.file, 'Dockerfile');
    t.is(err.location?.startLine, line);
  });
}

test('every realistic corpus Dockerfile plans', async (t) => {
  const dir = path.resolve('../shared/conformance/realistic');
  if (!existsSync(dir)) return t.pass('corpus not present');
  const needs: Record<string, Record<string, string>> = {};
  // BuildKit itself refuses these (Docker 26: "invalid name for build stage"); so do we.
  const refusedByBuildKit: Record<string, string> = { 'numbered-stage-copy': 'ERR_TSBUILD_STAGE_NAME' };
  for (const name of readdirSync(dir)) {
    const planned = planBuild({ ast: parseDockerfile(readFileSync(path.join(dir, name, 'Dockerfile')), { file: name }), buildArgs: needs[name] ?? {} });
    if (refusedByBuildKit[name]) {
      await t.throwsAsync(planned, { code: refusedByBuildKit[name] }, name);
      continue;
    }
    t.true(Object.keys((await planned).vertices).length > 0, name);
  }
});

test('a stage name must start with a letter (BuildKit refuses the others)', async (t) => {
  for (const bad of ['0-is-not-a-name', '_x', 'a/b', 'ü']) {
    const err = await t.throwsAsync(plan(`FROM busybox AS ${bad}\nRUN true\n`));
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_STAGE_NAME', bad);
  }
  for (const good of ['Builder', 'a.b-c_d', 'x1']) t.truthy(await plan(`FROM busybox AS ${good}\nRUN true\n`), good);
});

test('dot output renders with Graphviz; mermaid is a flowchart', async (t) => {
  const g = await plan(readFileSync('fixtures/plan/unused-stage/Dockerfile', 'utf8'));
  const dot = renderDot(g);
  const svg = execFileSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' });
  t.true(svg.includes('<svg'));
  t.true(svg.includes('[final 2/2] COPY'), 'step labels are drawn');
  t.true(renderMermaid(g).startsWith('flowchart TD\n'));
});

test('CLI: tsbuild plan prints JSON; a bad Dockerfile gives one located error line and exit 1', (t) => {
  const ok = spawnSync('node', ['bin/tsbuild.js', 'plan', 'fixtures/plan/unused-stage'], { encoding: 'utf8' });
  t.is(ok.status, 0, ok.stderr);
  t.is(JSON.parse(ok.stdout).target.name, 'final');
  const bad = spawnSync('node', ['bin/tsbuild.js', 'plan', '-f', 'fixtures/dockerfiles-invalid/json-null', '.'], { encoding: 'utf8' });
  t.is(bad.status, 1);
  t.regex(bad.stderr.split('\n')[0]!, /^fixtures\/dockerfiles-invalid\/json-null:2(:\d+)?: /);
  t.false(bad.stderr.includes('    at '), 'no stack trace');
});

test('WORKDIR makes a mkdir layer as BuildKit does, except for / which only sets the config', async (t) => {
  const g = await plan('FROM busybox\nUSER 1000\nWORKDIR /a\nWORKDIR b\nWORKDIR /\n');
  const files = Object.values(g.vertices).filter((v) => v.op.kind === 'file').map((v) => v.op as FileOp);
  t.deepEqual(files.map((f) => (f.actions[0] as { path: string }).path).sort(), ['/a', '/a/b']);
  t.true(files.every((f) => f.user === '1000'));
  const wd = g.target.history.filter((h) => h.created_by.startsWith('WORKDIR'));
  t.deepEqual(wd.map((h) => [h.created_by, h.empty_layer === true]), [['WORKDIR /a', false], ['WORKDIR /a/b', false], ['WORKDIR /', true]]);
  t.is(g.target.config.WorkingDir, '/');
});

test('RUN <<EOF with a #! body: the script is a 0755 file in a scratch layer, mounted read-only at /dev/pipes (as BuildKit)', async (t) => {
  const g = await plan("FROM busybox\nRUN <<'EOT'\n#!/bin/sh\necho \"$0\"\nEOT\n");
  const run = execs(g)[0]!;
  t.deepEqual(run.args, ['/bin/sh', '-c', '/dev/pipes/EOT']);
  t.is(run.mounts.length, 1);
  t.like(run.mounts[0], { type: 'bind', target: '/dev/pipes', source: '/', readonly: true });
  const script = g.vertices[(run.mounts[0] as { input: `sha256:${string}` }).input]!.op as FileOp;
  t.is(script.root, undefined);
  t.deepEqual(script.actions, [{ action: 'mkfile', path: '/EOT', mode: 0o755, data: '#!/bin/sh\necho "$0"\n' }]);
});

test('an ARG declared after an ENV of the same name wins in RUN and expansion, not in the image Env (BuildKit 0.13 lab)', async (t) => {
  const g = await plan('FROM busybox\nARG A=1\nENV A=envA\nENV B=envb\nARG B=b2\nARG C\nENV C=envc\nARG C\nRUN echo\nLABEL a=$A b=$B c=$C\n');
  t.deepEqual(g.target.config.Labels, { a: 'envA', b: 'b2', c: 'envc' });
  t.deepEqual(g.target.config.Env!.slice(1), ['A=envA', 'B=envb', 'C=envc']);
  const env = execs(g)[0]!.env;
  t.true(env.includes('B=b2') && env.includes('A=envA') && env.includes('C=envc') && !env.includes('B=envb'));
});

test('a stage built FROM another stage sees the parent stage\'s ARG values (BuildKit 0.13 lab), but its RUN prefix lists only its own ARGs', async (t) => {
  const g = await plan('FROM busybox AS p\nARG P=parent\nFROM p\nARG C=c\nRUN echo\nLABEL p=x$P\n');
  t.is(g.target.config.Labels!['p'], 'xparent');
  t.true(execs(g).every((e) => e.env.includes('P=parent')));
  t.is(g.target.history.at(-2)!.created_by, 'RUN |1 C=c /bin/sh -c echo # buildkit');
});

test('RUN history prefix: every ARG instruction of the stage, repeats included, with current values (BuildKit 0.13 lab)', async (t) => {
  const g = await plan('FROM busybox\nARG A=1\nARG B=b\nRUN true\nARG A=2\nENV B=envb\nARG V\nARG http_proxy=http://p:3128\nRUN true 2\n');
  const runs = g.target.history.filter((h) => h.created_by.startsWith('RUN')).map((h) => h.created_by);
  t.deepEqual(runs, ['RUN |2 A=1 B=b /bin/sh -c true # buildkit', 'RUN |5 A=2 B=envb A=2 V= http_proxy=http://p:3128 /bin/sh -c true 2 # buildkit']);
  // Proxy args stay out of the step's env (and so its cache key), as before.
  t.false(execs(g).some((e) => e.env.some((kv) => kv.startsWith('http_proxy='))));
});

test('FROM scratch: the config has WorkingDir / and the default PATH, as BuildKit\'s empty image', async (t) => {
  const g = await plan('FROM scratch\nCOPY a /\n');
  t.is(g.target.config.WorkingDir, '/');
  t.deepEqual(g.target.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

test('MAINTAINER sets the image author (BuildKit\'s top-level `author`), inherited by a child stage', async (t) => {
  const g = await plan('FROM busybox AS a\nMAINTAINER Jane <j@example.com>\nFROM a\nRUN true\n');
  t.is(g.target.author, 'Jane <j@example.com>');
  t.is((await plan('FROM busybox\nRUN true\n')).target.author, undefined);
});

test('STOPSIGNAL takes names in any case (kept as written) and non-zero numbers; unknown names are errors (BuildKit 0.13 lab)', async (t) => {
  t.is((await plan('FROM busybox\nSTOPSIGNAL sigkill\n')).target.config.StopSignal, 'sigkill');
  t.is((await plan('FROM busybox\nSTOPSIGNAL rtmin+3\n')).target.config.StopSignal, 'rtmin+3');
  t.is((await plan('FROM busybox\nSTOPSIGNAL 99\n')).target.config.StopSignal, '99');
  for (const bad of ['nosuch', '0', 'SIGRTMIN+16']) {
    const err = await plan(`FROM busybox\nSTOPSIGNAL ${bad}\n`).catch((e: unknown) => e);
    t.is((err as { code?: string }).code, 'ERR_TSBUILD_INSTRUCTION_ARGS', bad);
  }
});

test('WORKDIR keeps an absolute path as written in the config and history (BuildKit: `/app/` stays `/app/`); relative ones are joined and cleaned', async (t) => {
  const g = await plan('FROM busybox\nWORKDIR /a/b/../c/\nRUN true\nWORKDIR ./d/./e/\n');
  t.deepEqual(g.target.history.filter((h) => h.created_by.startsWith('WORKDIR')).map((h) => h.created_by), ['WORKDIR /a/b/../c/', 'WORKDIR /a/c/d/e']);
  t.is(execs(g)[0]!.cwd, '/a/c');
  const mkdirs = fileOps(g).flatMap((o) => o.actions).filter((a) => a.action === 'mkdir').map((a) => (a as { path: string }).path);
  t.deepEqual(mkdirs.sort(), ['/a/c', '/a/c/d/e']);
  t.is((await plan('FROM busybox\nWORKDIR /app/\n')).target.config.WorkingDir, '/app/');
});
