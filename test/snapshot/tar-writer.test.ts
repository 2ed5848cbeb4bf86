/**
 * The synchronous tar writer must give the same bytes as tar-stream's pack() (which made every
 * layer before it): otherwise the same tree would get a new diff_id and every cache would miss.
 */
import test from 'ava';
import fc from 'fast-check';
import { pack } from 'tar-stream';
import { encodeTarHeader, END_OF_TAR, TarChunks, type TarHeader, type TarEntryType } from '../../src/snapshot/tar-writer.js';

async function viaTarStream(entries: Array<{ header: TarHeader; body?: Buffer }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const { header, body } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) p.entry({ ...header }, body, cb);
      else p.entry({ ...header }, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function viaWriter(entries: Array<{ header: TarHeader; body?: Buffer }>, chunkSize: number): Buffer {
  const tar = new TarChunks(chunkSize);
  const out: Buffer[] = [];
  for (const { header, body } of entries) {
    tar.header(header);
    if (body) tar.body((b, off, len) => body.copy(b, off, 0, len), body.length);
    out.push(...tar.take());
  }
  tar.bytes(END_OF_TAR);
  out.push(...tar.take());
  return Buffer.concat(out);
}

const segment = fc.stringMatching(/^[a-zA-Z0-9._é名-]{1,40}$/);
const name = fc.array(segment, { minLength: 1, maxLength: 8 }).map((parts) => parts.join('/'));
const types: TarEntryType[] = ['file', 'directory', 'symlink', 'link', 'fifo', 'character-device'];

const entry = fc
  .record({
    name,
    type: fc.constantFrom(...types),
    // Not 0: tar-stream rewrites it to 0644/0755, we keep it (tested below).
    mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o2711, 0o1777, 0o600, 0o400),
    uid: fc.constantFrom(0, 1000, 65534, 3000000),
    gid: fc.constantFrom(0, 1000, 65534),
    // Up to 2038: tar-stream truncates seconds to 32 bits, so later times are compared with GNU tar below.
    mtime: fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((s) => new Date(s * 1000 + 123)),
    link: name,
    body: fc.uint8Array({ maxLength: 1500 }),
    xattrs: fc.option(fc.dictionary(fc.constantFrom('user.a', 'security.capability', 'user.long-name'), fc.string({ maxLength: 30 })), { nil: undefined }),
    dev: fc.record({ major: fc.integer({ min: 0, max: 300 }), minor: fc.integer({ min: 0, max: 70000 }) }),
  })
  .map((r) => {
    const header: TarHeader = { name: r.type === 'directory' ? `${r.name}/` : r.name, type: r.type, mode: r.mode, uid: r.uid, gid: r.gid, mtime: r.mtime, uname: '', gname: '' };
    if (r.type === 'symlink' || r.type === 'link') header.linkname = r.link;
    if (r.type === 'character-device') Object.assign(header, { devmajor: r.dev.major, devminor: r.dev.minor });
    if (r.xattrs && Object.keys(r.xattrs).length > 0) header.pax = Object.fromEntries(Object.entries(r.xattrs).map(([k, v]) => [`SCHILY.xattr.${k}`, v]));
    const body = r.type === 'file' ? Buffer.from(r.body) : undefined;
    if (body) header.size = body.length;
    return { header, body };
  });

test('random entries: byte-identical to tar-stream pack(), whatever the chunk size', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { maxLength: 12 }), fc.constantFrom(512, 4096, 1 << 20), async (entries, chunkSize) => {
      const expected = await viaTarStream(entries);
      t.deepEqual(viaWriter(entries, chunkSize), expected);
    }),
    { numRuns: 150 },
  );
});

test('edge cases: 100/101-char names, a name that cannot be split, long link targets, empty bodies', async (t) => {
  const mtime = new Date(1_700_000_000_000);
  const base = { mode: 0o644, uid: 0, gid: 0, mtime, uname: '', gname: '' };
  const entries: Array<{ header: TarHeader; body?: Buffer }> = [
    { header: { ...base, name: 'a'.repeat(100), type: 'file', size: 1 }, body: Buffer.from('x') },
    { header: { ...base, name: 'a'.repeat(101), type: 'file', size: 0 }, body: Buffer.alloc(0) },
    { header: { ...base, name: `${'d'.repeat(155)}/${'f'.repeat(100)}`, type: 'file', size: 2 }, body: Buffer.from('ok') },
    { header: { ...base, name: `${'d'.repeat(156)}/f`, type: 'file', size: 0 }, body: Buffer.alloc(0) },
    { header: { ...base, name: 'l', type: 'symlink', linkname: 't'.repeat(100) } },
    { header: { ...base, name: 'l2', type: 'symlink', linkname: 't'.repeat(101) } },
    { header: { ...base, name: 'big-uid', type: 'file', uid: 0o7777777 + 1, size: 0 }, body: Buffer.alloc(0) },
  ];
  t.deepEqual(viaWriter(entries, 1 << 20), await viaTarStream(entries));
  t.deepEqual(Buffer.concat(encodeTarHeader(entries[5]!.header)), (await viaTarStream([entries[5]!])).subarray(0, 1536));
});

test('a zero mode stays 0000 (tar-stream would write 0644/0755; BuildKit keeps 0000)', async (t) => {
  const base = { mode: 0, uid: 0, gid: 0, mtime: new Date(1_700_000_000_000), uname: '', gname: '' };
  const tar = viaWriter([{ header: { ...base, name: 'dir/', type: 'directory' } }, { header: { ...base, name: 'z', type: 'file', size: 1 }, body: Buffer.from('z') }], 1 << 20);
  const { extract } = await import('tar-stream');
  const { Readable } = await import('node:stream');
  const modes: Array<[string, number | undefined]> = [];
  const ex = extract();
  Readable.from([tar]).pipe(ex);
  for await (const e of ex) {
    modes.push([e.header.name, e.header.mode]);
    e.resume();
  }
  t.deepEqual(modes, [['dir/', 0], ['z', 0]]);
});

test('times before 1970, after 2038 and after 2242 are written exactly: GNU tar reads them back', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const times: Record<string, string> = { old: '1960-01-01 00:00:00', y2038: '2100-06-01 12:00:00', far: '2250-01-01 00:00:00', plain: '2023-11-14 22:13:20' };
  const tar = new TarChunks(4096);
  for (const [name, when] of Object.entries(times)) tar.header({ name, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: new Date(`${when}Z`), uname: '', gname: '' });
  tar.bytes(END_OF_TAR);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-tartime-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = Buffer.concat(tar.take());
  writeFileSync(path.join(dir, 'a.tar'), bytes);
  const listed = execFileSync('tar', ['--full-time', '--utc', '-tvf', path.join(dir, 'a.tar')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  for (const [name, when] of Object.entries(times)) t.regex(listed, new RegExp(`${when} ${name}\\n`), `${name}: ${listed}`);
  // Only the two that 11 octal digits cannot hold take a PAX record (2100 fits; it only overflowed 32 bits).
  t.deepEqual(bytes.toString('latin1').match(/ mtime=-?\d+/g), [' mtime=-315619200', ' mtime=8835955200']);
});
