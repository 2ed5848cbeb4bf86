/**
 * `tsbuild history show ID --format svg|html` rendered by a real browser (Debian's chromium,
 * headless): the SVG parses as XML, the page's DOM holds every step label, and the screenshot
 * shows bars in the executed, critical-path and cached colours.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHarness } from '../helpers/tsbuild.js';
import { countColor, decodePng } from '../helpers/png.js';

const run = promisify(execFile);

const DOCKERFILE = [
  'FROM busybox AS gen',
  'RUN echo "<gen> & co" > /out && sleep 0.4',
  'FROM busybox AS side',
  'RUN echo side > /side && sleep 0.2',
  'FROM busybox',
  'COPY a.txt /a.txt',
  'COPY --from=gen /out /out',
  'COPY --from=side /side /side',
  'RUN cat /a.txt /out /side > /all',
  '',
].join('\n');

interface Step {
  name: string;
  stage: string;
  cache: string;
  startedAt?: number;
  endedAt?: number;
}

/** Headless chromium with a private profile; returns stdout. */
async function chromium(tmp: string, args: string[]): Promise<string> {
  const profile = path.join(tmp, 'chromium-profile');
  const { stdout } = await run('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${profile}`, ...args], {
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

test('history show --format svg/html: well-formed, readable in headless chromium, cached steps and the critical path visible', async (t) => {
  const h = await createHarness(t);
  const dir = path.join(h.tmp, 'proj');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(dir, 'a.txt'), 'a\n');
  const meta = path.join(h.tmp, 'meta.json');
  const idOf = async (): Promise<string> => (JSON.parse(await readFile(meta, 'utf8')) as { 'tsbuild.build': { id: string } })['tsbuild.build'].id;

  h.ok(['build', '--progress=plain', '--metadata-file', meta, dir]);
  const cold = await idOf();
  await writeFile(path.join(dir, 'a.txt'), 'b\n');
  h.ok(['build', '--progress=plain', '--metadata-file', meta, dir]);
  const warm = await idOf();

  // The cold build ran both side stages at once: their bars must overlap on the time axis.
  const coldSteps = (JSON.parse(h.ok(['history', 'show', cold, '--format', 'json'])) as { steps: Step[] }).steps;
  const gen = coldSteps.find((s) => s.stage === 'gen')!;
  const side = coldSteps.find((s) => s.stage === 'side')!;
  t.true(gen.startedAt! < side.endedAt! && side.startedAt! < gen.endedAt!, 'gen and side ran in parallel');
  const warmSteps = (JSON.parse(h.ok(['history', 'show', warm, '--format', 'json'])) as { steps: Step[] }).steps;
  t.deepEqual(warmSteps.filter((s) => s.cache !== 'miss').map((s) => s.stage).sort(), ['gen', 'side']);

  for (const [id, steps] of [[cold, coldSteps], [warm, warmSteps]] as const) {
    const svg = h.ok(['history', 'show', id, '--format', 'svg']);
    t.regex(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const stage of ['gen', 'side', 'stage-2']) t.true(svg.includes(`data-stage="${stage}"`), stage);
    t.true(svg.includes('class="step critical"'));
    const svgFile = path.join(h.tmp, `${id}.svg`);
    await writeFile(svgFile, svg);
    // Chromium's XML parser reports errors as a <parsererror> element in the document.
    const svgDom = await chromium(h.tmp, ['--dump-dom', `file://${svgFile}`]);
    t.false(svgDom.includes('parsererror'), svgDom.slice(0, 2000));
    t.true(svgDom.includes('&lt;gen&gt; &amp; co'), 'the instruction text survives escaping');

    const htmlFile = path.join(h.tmp, `${id}.html`);
    await writeFile(htmlFile, h.ok(['history', 'show', id, '--format', 'html']));
    const dom = await chromium(h.tmp, ['--dump-dom', `file://${htmlFile}`]);
    for (const s of steps) t.true(dom.includes(escapeHtml(s.name.length > 56 ? s.name.slice(0, 55) : s.name)), `label ${s.name}`);
    t.true(dom.includes('critical path'));
    // The table under the picture says why the warm build's steps missed.
    if (id === warm) t.true(dom.includes('<li>context files changed: a.txt (content)</li>'), 'miss causes in the page');

    const png = path.join(h.tmp, `${id}.png`);
    await chromium(h.tmp, [`--screenshot=${png}`, '--window-size=1200,800', `file://${htmlFile}`]);
    const image = decodePng(await readFile(png));
    t.is(image.width, 1200);
    t.is(image.height, 800);
    const pixels = image.width * image.height;
    t.true(pixels - countColor(image, '#ffffff', 8) > pixels * 0.03, 'the page is not blank');
    t.true(countColor(image, '#e45756', 4) > 200, 'critical-path bars are drawn');
    if (id === warm) t.true(countColor(image, '#b0b0b0', 4) > 20, 'cached steps are drawn');
    else t.true(countColor(image, '#4c78a8', 4) > 200, 'bars off the critical path are drawn');
  }

  // The XML check can fail: an unescaped `&` is reported.
  const broken = path.join(h.tmp, 'broken.svg');
  await writeFile(broken, '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>a & b</text></svg>\n');
  t.true((await chromium(h.tmp, ['--dump-dom', `file://${broken}`])).includes('parsererror'));
});
