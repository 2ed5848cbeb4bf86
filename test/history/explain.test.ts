/**
 * Cache-miss explanations, one case per cause, through the real CLI: build once, change one
 * thing, build again with --explain and assert the explanation text of each step that missed
 * (and that every other step came from the cache).
 */
import test from 'ava';
import { chmod, chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { busyboxTar, createHarness, events, executed, type Harness } from '../helpers/tsbuild.js';

const BASE = 'FROM busybox\nARG V=1\nENV E=1\nRUN echo one > /f\nCOPY a.txt /a.txt\nRUN cat /a.txt /f > /g\n';

interface Case {
  title: string;
  dockerfile?: string;
  files?: Record<string, string>;
  /** Extra arguments for the first build. */
  first?: string[];
  /** Changes the project (or state) before the second build. */
  change?(dir: string, h: Harness): Promise<void>;
  /** Extra arguments for the second build. */
  second?: string[];
  /** Instruction text -> the causes expected for its miss. Steps not listed must be cached. */
  expect: Record<string, string[]>;
  /** Strings that must appear nowhere in the output or the record (secret values). */
  never?: string[];
}

const cases: Case[] = [
  {
    title: 'instruction text changed',
    change: (dir) => writeFile(path.join(dir, 'Dockerfile'), BASE.replace('echo one', 'echo two')),
    expect: {
      'RUN echo two > /f': ['instruction changed: was "RUN echo one > /f", now "RUN echo two > /f"'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 2/4] RUN echo two > /f'],
      'RUN cat /a.txt /f > /g': ['parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'build arg changed, its value never shown',
    first: ['--build-arg', 'V=first-s3cret'],
    second: ['--build-arg', 'V=second-s3cret'],
    expect: {
      'RUN echo one > /f': ['build arg V changed'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 2/4] RUN echo one > /f'],
      'RUN cat /a.txt /f > /g': ['build arg V changed', 'parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
    never: ['first-s3cret', 'second-s3cret'],
  },
  {
    title: 'ARG default changed in the Dockerfile',
    change: (dir) => writeFile(path.join(dir, 'Dockerfile'), BASE.replace('ARG V=1', 'ARG V=2')),
    expect: {
      'RUN echo one > /f': ['ARG V changed'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 2/4] RUN echo one > /f'],
      'RUN cat /a.txt /f > /g': ['ARG V changed', 'parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'ENV changed',
    change: (dir) => writeFile(path.join(dir, 'Dockerfile'), BASE.replace('ENV E=1', 'ENV E=2')),
    expect: {
      'RUN echo one > /f': ['ENV E changed'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 2/4] RUN echo one > /f'],
      'RUN cat /a.txt /f > /g': ['ENV E changed', 'parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    // Steps below an inserted instruction are matched by their text, not their new position.
    title: 'instruction inserted above',
    change: (dir) => writeFile(path.join(dir, 'Dockerfile'), BASE.replace('RUN echo one', 'RUN echo extra > /x\nRUN echo one')),
    expect: {
      'RUN echo extra > /x': ['instruction changed: was "RUN echo one > /f", now "RUN echo extra > /x"'],
      'RUN echo one > /f': ['parent step changed: [stage-0 2/5] RUN echo extra > /x'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 3/5] RUN echo one > /f'],
      'RUN cat /a.txt /f > /g': ['parent step changed: [stage-0 4/5] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'context file content changed',
    change: (dir) => writeFile(path.join(dir, 'a.txt'), 'A2\n'),
    expect: {
      'COPY a.txt /a.txt': ['context files changed: a.txt (content)'],
      'RUN cat /a.txt /f > /g': ['parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'context file mode changed',
    change: (dir) => chmod(path.join(dir, 'a.txt'), 0o755),
    expect: {
      'COPY a.txt /a.txt': ['context files changed: a.txt (mode 0644 -> 0755)'],
      'RUN cat /a.txt /f > /g': ['parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    // Owners alone do not change a context checksum (COPY resets them); with the content they are named.
    title: 'context file content and owner changed',
    change: async (dir) => {
      await writeFile(path.join(dir, 'a.txt'), 'A3\n');
      await chown(path.join(dir, 'a.txt'), 1234, 5678);
    },
    expect: {
      'COPY a.txt /a.txt': ['context files changed: a.txt (content, owner 0:0 -> 1234:5678)'],
      'RUN cat /a.txt /f > /g': ['parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'context files added and removed',
    dockerfile: 'FROM busybox\nCOPY src/ /src/\nRUN ls /src > /list\n',
    files: { 'src/keep.txt': 'k\n', 'src/old.txt': 'o\n' },
    change: async (dir) => {
      await rm(path.join(dir, 'src', 'old.txt'));
      await writeFile(path.join(dir, 'src', 'new.txt'), 'n\n');
    },
    expect: {
      'COPY src/ /src/': ['context files changed: src/new.txt (added); src/old.txt (removed)'],
      'RUN ls /src > /list': ['parent step changed: [stage-0 2/3] COPY src/ /src/'],
    },
  },
  {
    title: 'context file behind a RUN bind mount changed',
    dockerfile: 'FROM busybox\nRUN --mount=type=bind,source=a.txt,target=/m/a.txt cat /m/a.txt > /g\n',
    change: (dir) => writeFile(path.join(dir, 'a.txt'), 'A4\n'),
    expect: { 'RUN --mount=type=bind,source=a.txt,target=/m/a.txt cat /m/a.txt > /g': ['context files changed: a.txt (content)'] },
  },
  {
    title: 'step options changed (USER)',
    dockerfile: 'FROM busybox\nUSER root\nRUN id -u > /uid\n',
    change: (dir) => writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nUSER 0\nRUN id -u > /uid\n'),
    expect: { 'RUN id -u > /uid': ['step options changed (user, working directory, platform, mounts or flags)'] },
  },
  {
    title: "the build's --network changed (it is the network of every RUN without its own)",
    second: ['--network', 'none'],
    expect: {
      'RUN echo one > /f': ['network mode changed: was default, now none'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 2/4] RUN echo one > /f'],
      'RUN cat /a.txt /f > /g': ['network mode changed: was default, now none', 'parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'base image changed',
    change: async (_dir, h) => {
      h.ok(['image', 'import', busyboxTar(), 'busybox:latest'], { env: { SOURCE_DATE_EPOCH: '86400' } });
    },
    expect: {
      'RUN echo one > /f': ['base image docker.io/library/busybox:latest changed'],
      'COPY a.txt /a.txt': ['parent step changed: [stage-0 2/4] RUN echo one > /f'],
      'RUN cat /a.txt /f > /g': ['parent step changed: [stage-0 3/4] COPY a.txt /a.txt'],
    },
  },
  {
    title: 'parent step changed in another stage',
    dockerfile: 'FROM busybox AS gen\nRUN echo one > /out\nFROM busybox\nCOPY --from=gen /out /in\n',
    change: (dir) => writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox AS gen\nRUN echo two > /out\nFROM busybox\nCOPY --from=gen /out /in\n'),
    expect: {
      'RUN echo two > /out': ['instruction changed: was "RUN echo one > /out", now "RUN echo two > /out"'],
      'COPY --from=gen /out /in': ['parent step changed: [gen 2/2] RUN echo two > /out'],
    },
  },
  {
    title: '--no-cache',
    second: ['--no-cache'],
    expect: {
      'RUN echo one > /f': ['--no-cache was given'],
      'COPY a.txt /a.txt': ['--no-cache was given'],
      'RUN cat /a.txt /f > /g': ['--no-cache was given'],
    },
  },
  {
    title: '--no-cache-filter',
    dockerfile: 'FROM busybox AS gen\nRUN echo one > /out\nFROM busybox AS final\nCOPY --from=gen /out /in\n',
    second: ['--no-cache-filter', 'final'],
    expect: { 'COPY --from=gen /out /in': ['--no-cache-filter excludes stage final'] },
  },
  {
    title: 'cache record pruned (same key)',
    change: async (_dir, h) => {
      for (const n of await readdir(path.join(h.root, 'cache', 'keys'))) if (n.endsWith('.json')) await rm(path.join(h.root, 'cache', 'keys', n));
    },
    expect: {
      'RUN echo one > /f': ['same cache key as in build PREV, but that result is no longer in the cache (pruned)'],
      'COPY a.txt /a.txt': ['same cache key as in build PREV, but that result is no longer in the cache (pruned)'],
      'RUN cat /a.txt /f > /g': ['same cache key as in build PREV, but that result is no longer in the cache (pruned)'],
    },
  },
];

/** Instruction text (without the `[stage n/m] ` prefix) -> cause texts, from rawjson events. */
function explanations(stderr: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events(stderr)) {
    if (e.type !== 'vertex.explain') continue;
    const name = String(e.name).replace(/^\[[^\]]+\] /, '');
    out[name] = (e.causes as Array<{ text: string }>).map((c) => c.text);
  }
  return out;
}

function metadataId(text: string): string {
  return (JSON.parse(text) as { 'tsbuild.build': { id: string } })['tsbuild.build'].id;
}

for (const c of cases) {
  test.serial(`explain: ${c.title}`, async (t) => {
    const h = await createHarness(t);
    const dir = path.join(h.tmp, 'proj');
    await mkdir(path.join(dir, 'src'), { recursive: true });
    await writeFile(path.join(dir, 'Dockerfile'), c.dockerfile ?? BASE);
    await writeFile(path.join(dir, 'a.txt'), 'A\n');
    await chmod(path.join(dir, 'a.txt'), 0o644);
    for (const [p, body] of Object.entries(c.files ?? {})) await writeFile(path.join(dir, p), body);
    const meta = path.join(h.tmp, 'meta.json');

    const first = h.run(['build', '--progress=rawjson', '--explain', '--metadata-file', meta, ...(c.first ?? []), dir]);
    t.is(first.status, 0, first.stderr);
    const prev = metadataId(await readFile(meta, 'utf8'));
    // The first build of a Dockerfile has nothing to compare with.
    for (const causes of Object.values(explanations(first.stderr))) t.deepEqual(causes, ['no previous build of this step']);
    t.true(Object.keys(explanations(first.stderr)).length > 0);

    await c.change?.(dir, h);
    const second = h.run(['build', '--progress=rawjson', '--explain', '--metadata-file', meta, ...(c.second ?? []), dir]);
    t.is(second.status, 0, second.stderr);
    const expected = Object.fromEntries(Object.entries(c.expect).map(([k, v]) => [k, v.map((s) => s.replace('PREV', prev))]));
    t.deepEqual(explanations(second.stderr), expected);
    t.deepEqual(executed(second.stderr).map((n) => n.replace(/^\[[^\]]+\] /, '')).sort(), Object.keys(c.expect).sort());

    // The same explanations afterwards, from the record.
    const id = metadataId(await readFile(meta, 'utf8'));
    const shown = h.ok(['history', 'show', id.slice(0, 10), '--explain']);
    for (const [step, causes] of Object.entries(expected)) {
      t.true(shown.includes(`CACHE MISS [`) && shown.includes(`] ${step}\n${causes.map((x) => `  - ${x}\n`).join('')}`), `${step} in:\n${shown}`);
    }
    for (const secret of c.never ?? []) {
      t.false(second.stderr.includes(secret) || first.stderr.includes(secret), `${secret} printed`);
      for (const n of await readdir(path.join(h.root, 'history'))) {
        if (n.endsWith('.json')) t.false((await readFile(path.join(h.root, 'history', n), 'utf8')).includes(secret), `${secret} stored in ${n}`);
      }
    }
  });
}

test.serial('explain: plain progress prints the causes under the step output', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), BASE);
  await writeFile(path.join(dir, 'a.txt'), 'A\n');
  h.ok(['build', '--progress=plain', dir]);
  await writeFile(path.join(dir, 'a.txt'), 'B\n');
  const r = h.run(['build', '--progress=plain', '--explain', dir]);
  t.is(r.status, 0, r.stderr);
  const at = r.stderr.indexOf('CACHE MISS [stage-0 3/4] COPY a.txt /a.txt\n  - context files changed: a.txt (content)\n');
  t.true(at > 0, r.stderr);
  t.true(at > r.stderr.lastIndexOf('DONE'), 'explanations come after the progress output');
  // Without --explain nothing is printed, but the record still has the causes.
  await writeFile(path.join(dir, 'a.txt'), 'C\n');
  const quiet = h.run(['build', '--progress=plain', dir]);
  t.is(quiet.status, 0, quiet.stderr);
  t.false(quiet.stderr.includes('CACHE MISS'));
  t.true(h.ok(['history', 'show', 'latest', '--explain']).includes('  - context files changed: a.txt (content)\n'));
});
