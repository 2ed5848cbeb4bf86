import test from 'ava';
import { parseDockerfile } from '../../src/parser/index.js';
import { parseDuration, parseInstruction, parseMount, type Instruction } from '../../src/parser/instructions/index.js';

/** Parses a Dockerfile and types its instructions; errors carry the Dockerfile location. */
const typed = (text: string): Instruction[] => parseDockerfile(text, { file: 'Df' }).instructions.map((n) => parseInstruction(n, 'Df'));
const one = (line: string) => typed(`FROM busybox\n${line}\n`)[1]!;

test('RUN: flags are typed; shell and exec forms are kept apart', (t) => {
  const r = one('RUN --network=none --mount=type=cache,target=/c --mount=type=tmpfs,dst=/t echo hi');
  t.is(r.kind, 'run');
  if (r.kind !== 'run') return;
  t.is(r.network, 'none');
  t.deepEqual(r.mounts, ['type=cache,target=/c', 'type=tmpfs,dst=/t']);
  t.false(r.json);
  const e = one('RUN ["echo", "a b"]');
  t.true(e.kind === 'run' && e.json);
  t.deepEqual(e.kind === 'run' ? e.command : [], ['echo', 'a b']);
});

test('COPY/ADD: flags and sources/destination', (t) => {
  const c = one('COPY --from=build --chown=1:2 --chmod=0755 --link --exclude=*.md a b /dst/');
  t.like(c, { kind: 'copy', from: 'build', chown: '1:2', chmod: '0755', link: true, sources: ['a', 'b'], dest: '/dst/' });
  t.deepEqual(c.kind === 'copy' ? c.exclude : [], ['*.md']);
  const a = one('ADD --checksum=sha256:' + 'a'.repeat(64) + ' https://example.com/x /x');
  t.like(a, { kind: 'add', sources: ['https://example.com/x'], dest: '/x' });
});

test('flags of one instruction are refused on another, with the line', (t) => {
  const cases: Array<[string, string]> = [
    ['COPY --network=none a b', 'ERR_TSBUILD_INSTRUCTION_FLAG'],
    ['RUN --from=x true', 'ERR_TSBUILD_INSTRUCTION_FLAG'],
    ['ADD --from=x a b', 'ERR_TSBUILD_INSTRUCTION_FLAG'],
    ['WORKDIR --foo=1 /x', 'ERR_TSBUILD_INSTRUCTION_FLAG'],
    ['RUN --security=root true', 'ERR_TSBUILD_INSTRUCTION_FLAG'],
    ['ADD --checksum=md5:abc https://e/x /x', 'ERR_TSBUILD_INSTRUCTION_FLAG'],
    ['FOO bar', 'ERR_TSBUILD_INSTRUCTION_UNKNOWN'],
  ];
  for (const [line, code] of cases) {
    const err = t.throws(() => typed(`FROM busybox\n\n${line}\n`), undefined, line) as { code?: string; location?: { file: string; startLine: number } };
    t.is(err.code, code, line);
    t.is(err.location?.file, 'Df', line);
    t.is(err.location?.startLine, 3, line);
  }
});

test('RUN --mount: keys, aliases and typed values as BuildKit reads them', (t) => {
  t.like(parseMount('type=bind,source=/s,target=/t,from=build,rw'), { type: 'bind', source: '/s', target: '/t', from: 'build', readonly: false });
  t.like(parseMount('type=bind,src=/s,destination=/t'), { type: 'bind', source: '/s', target: '/t' });
  t.like(parseMount('type=cache,dst=/c,id=x,sharing=locked,mode=0700,uid=5,gid=6,ro'), { type: 'cache', target: '/c', id: 'x', sharing: 'locked', mode: 0o700, uid: 5, gid: 6, readonly: true });
  t.like(parseMount('type=secret,id=tok,env=TOKEN,required=true'), { type: 'secret', id: 'tok', env: 'TOKEN', required: true });
  t.like(parseMount('type=ssh'), { type: 'ssh' });
  t.like(parseMount('type=tmpfs,target=/t,size=1024'), { type: 'tmpfs', target: '/t', size: 1024 });
  for (const bad of ['type=cache,target=/c,sharing=sometimes', 'type=cache,target=/c,mode=9', 'type=cache,target=/c,uid=-1', 'type=bind,target=/t,readonly=maybe', 'type=bind,target=/t,bogus=1', 'type=nfs,target=/t']) {
    t.throws(() => parseMount(bad), undefined, bad);
  }
});

test('HEALTHCHECK: Go durations, defaults, NONE and CMD-SHELL', (t) => {
  const h = one('HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=250ms --retries=3 CMD curl -f http://x/');
  t.like(h, { kind: 'healthcheck', none: false, interval: 90e9, timeout: 1.5e9, startPeriod: 250e6, retries: 3 });
  t.deepEqual(h.kind === 'healthcheck' && !h.none ? h.test : [], ['CMD-SHELL', 'curl -f http://x/']);
  const j = one('HEALTHCHECK CMD ["curl", "-f", "http://x/"]');
  t.deepEqual(j.kind === 'healthcheck' && !j.none ? j.test : [], ['CMD', 'curl', '-f', 'http://x/']);
  t.like(one('HEALTHCHECK NONE'), { kind: 'healthcheck', none: true });
  const neg = t.throws(() => one('HEALTHCHECK --interval=-5s CMD true')) as { code?: string };
  t.is(neg.code, 'ERR_TSBUILD_INSTRUCTION_HEALTHCHECK');
  t.like(one('HEALTHCHECK --interval=0s CMD true'), { kind: 'healthcheck', interval: 0 });
});

test('parseDuration follows Go time.ParseDuration', (t) => {
  t.is(parseDuration('0'), 0);
  t.is(parseDuration('1h2m3s'), 3723e9);
  t.is(parseDuration('.5s'), 0.5e9);
  t.is(parseDuration('10us'), 10e3);
  t.is(parseDuration('10µs'), 10e3);
  t.is(parseDuration('+2s'), 2e9);
  t.is(parseDuration('-1.5h'), -5400e9);
  t.is(parseDuration('-0'), 0);
  for (const bad of ['', '5', 's', '5x', '1s ', '1d', '--1s', '+', '.s']) t.is(parseDuration(bad), undefined, bad);
});

test('ARG, ENV, LABEL, SHELL, EXPOSE, VOLUME, ONBUILD are typed', (t) => {
  t.deepEqual((one('ARG A B=2 C=') as { args: unknown }).args, [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }]);
  t.like(one('SHELL ["/bin/bash", "-eo", "pipefail", "-c"]'), { kind: 'shell', shell: ['/bin/bash', '-eo', 'pipefail', '-c'] });
  t.like(one('EXPOSE 80 443/tcp 53/udp 9000-9002/sctp'), { kind: 'expose' });
  t.like(one('VOLUME ["/a", "/b"]'), { kind: 'volume', paths: ['/a', '/b'] });
  t.like(one('ONBUILD RUN make'), { kind: 'onbuild' });
  t.like(one('STOPSIGNAL SIGTERM'), { kind: 'stopsignal', signal: 'SIGTERM' });
});
