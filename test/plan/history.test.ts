import test from 'ava';
import { parseDockerfile } from '../../src/parser/index.js';
import { planBuild } from '../../src/plan/index.js';

const history = async (text: string, buildArgs: Record<string, string> = {}) =>
  (await planBuild({ ast: parseDockerfile(text, { file: 'D' }), buildArgs })).target.history.map((h) => [h.created_by, h.empty_layer === true] as const);

test('history created_by texts follow BuildKit dockerfile2llb', async (t) => {
  const h = await history(
    'ARG G=g\nFROM busybox AS b\nRUN true\nFROM busybox\nARG G\nARG A=1 B\nARG C=x\nARG D=$A-d\nSHELL ["/bin/sh", "-ec"]\nEXPOSE 80 53/udp 80\nVOLUME /v /w\nCOPY --from=b --chown=1:2 --chmod=0644 /x /y\nCOPY --parents a/b c/\nCOPY <<EOF /h\nhi\nEOF\n',
    { C: 'cli' },
  );
  t.deepEqual(h, [
    // As declared (BuildKit 0.13 lab): no global default, no --build-arg value.
    ['ARG G', true],
    ['ARG A=1 B', true],
    ['ARG C=x', true],
    ['ARG D=1-d', true],
    ['SHELL [/bin/sh -ec]', true],
    ['EXPOSE map[53/udp:{} 80/tcp:{}]', true],
    ['VOLUME [/v /w]', true],
    ['COPY --chown=1:2 --chmod=0644 /x /y # buildkit', false],
    ['COPY --parents a/b c/ # buildkit', false],
    ['COPY <<EOF /h # buildkit', false],
  ]);
});

test('ONBUILD adds a trigger to the config but no history entry (as in BuildKit)', async (t) => {
  const h = await history('FROM busybox\nONBUILD RUN make\nENV A=1\n');
  t.deepEqual(h, [['ENV A=1', true]]);
});

test('RUN heredocs: history text as BuildKit writes it (no newline after the last terminator; a #! script runs from /dev/pipes)', async (t) => {
  const h = await history("FROM busybox\nRUN <<EOT sh -c 'cat > /f'\nbody\nEOT\nRUN <<'EOT'\n#!/bin/sh\necho hi\nEOT\nRUN <<EOT\necho plain\nEOT\n");
  t.deepEqual(h, [
    ["RUN /bin/sh -c <<EOT sh -c 'cat > /f'\nbody\nEOT # buildkit", false],
    ['RUN /bin/sh -c /dev/pipes/EOT # buildkit', false],
    ['RUN /bin/sh -c echo plain\n # buildkit', false],
  ]);
});
