/**
 * Layer creation from an overlayfs upper directory: the upper dir *is* the change set, so a
 * RUN's layer is a walk of it. Overlay whiteouts (0/0 character devices) become `.wh.NAME`
 * entries, opaque directories (xattr trusted.overlay.opaque=y) get a `.wh..wh..opq` entry, hard
 * links inside the layer become link entries, other xattrs become PAX records. Entries are
 * sorted by path and headers carry no names or host-specific fields, so equal trees give equal
 * bytes; `sourceDateEpoch` clamps mtimes (rewrite-timestamp) for reproducible layers.
 */
import { closeSync, createReadStream, lstatSync, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { END_OF_TAR, TarChunks, tarHeaderSize, tarPadding, type TarHeader } from './tar-writer.js';
import { hostCommand } from '../util/host-command.js';

export interface DiffOptions {
  /** Clamp mtimes to this epoch (seconds). */
  sourceDateEpoch?: number;
  /** Receives the change list once it is known (build records count added/changed/deleted). */
  onChanges?: (items: ChangeItem[]) => void;
  /**
   * Sizing instead of writing: nothing is read or emitted, and the tar's exact size comes here at
   * the end (measureLayer). Headers are sized by the writer's own rules, so it cannot drift.
   */
  sizeOnly?: (bytes: number) => void;
}

/** All xattrs under a tree, from one getfattr call: path -> name -> value. */
export async function readXattrs(dir: string): Promise<Map<string, Map<string, Buffer>>> {
  const out = new Map<string, Map<string, Buffer>>();
  let text: string;
  try {
    ({ stdout: text } = await hostCommand('getfattr', ['-h', '-R', '-P', '--absolute-names', '-d', '-m', '-', '-e', 'hex', dir]));
  } catch (err) {
    // getfattr exits 1 when some files have no xattrs but still prints the others.
    text = (err as { stdout?: string }).stdout ?? '';
  }
  let current: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      out.set(line.slice(8), current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      const value = line.slice(eq + 1);
      current.set(line.slice(0, eq), value.startsWith('0x') ? Buffer.from(value.slice(2), 'hex') : Buffer.from(value.replace(/^"|"$/g, '')));
    }
  }
  return out;
}

/** One change to emit: an entry copied from `abs`, or a deletion of `rel`. */
export interface ChangeItem {
  rel: string;
  abs: string;
  whiteout?: boolean;
  /** A directory whose lower content is hidden (`.wh..wh..opq`). */
  opaque?: boolean;
  /** lstat of `abs` when the walk already made it (saves a second call per entry). */
  st?: Stats;
}
type Item = ChangeItem;

/**
 * Sorted walk of a tree. Synchronous metadata calls on purpose: a layer can hold thousands of
 * entries and an awaited lstat per entry costs a thread-pool round trip each.
 */
export async function walk(root: string): Promise<Item[]> {
  const items: Item[] = [];
  const visit = (rel: string): void => {
    const abs = rel === '' ? root : path.join(root, rel);
    const names = sortByBytes(readdirSync(abs));
    for (const n of names) {
      const r = rel === '' ? n : `${rel}/${n}`;
      const abs = path.join(root, r);
      const st = lstatSync(abs);
      items.push({ rel: r, abs, st });
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return items;
}

/**
 * Names in byte order, as tar writers sort them. For ASCII names that is the plain string order;
 * only other names pay for encoding (a Buffer pair per comparison cost a 2,000-file layer ~3 ms).
 */
export function sortByBytes(names: string[]): string[] {
  // eslint-disable-next-line no-control-regex
  if (names.every((n) => /^[\x00-\x7f]*$/.test(n))) return names.sort();
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Builds an uncompressed OCI layer tar from an overlay upper directory. */
export function createLayerFromOverlayUpper(upperDir: string, options: DiffOptions = {}): Readable {
  return emitLayer(async () => {
    // getfattr runs in its own process while this one walks the tree.
    const reading = readXattrs(upperDir);
    const walked = await walk(upperDir);
    const xattrs = await reading;
    // Marked in place: a copy of each of thousands of items is garbage the collector pays for.
    for (const item of walked) {
      const st = item.st!;
      const attrs = xattrs.get(item.abs);
      // Both whiteout forms overlayfs uses: a 0/0 char device, or (userxattr/nested overlays)
      // an empty file carrying the trusted.overlay.whiteout xattr.
      item.whiteout = (st.isCharacterDevice() && st.rdev === 0) || (st.isFile() && attrs?.has('trusted.overlay.whiteout') === true);
      item.opaque = st.isDirectory() && attrs?.get('trusted.overlay.opaque')?.toString() === 'y';
    }
    return { items: walked, xattrs };
  }, options);
}

/**
 * The exact size of the tar createLayerFromOverlayUpper would write, from one walk and no file
 * reads: what a build record shows for a layer whose tar is not made until an export needs it.
 */
export async function measureLayer(upperDir: string, options: DiffOptions = {}): Promise<number> {
  let size = 0;
  for await (const _ of createLayerFromOverlayUpper(upperDir, { ...options, sizeOnly: (n) => void (size = n) }));
  return size;
}

/** TarChunks' interface for sizing: counts what would be written (tarHeaderSize for headers). */
class TarTally {
  size = 0;
  readonly pendingBytes = 0;
  header(h: TarHeader): void {
    this.size += tarHeaderSize(h);
  }
  bytes(b: Buffer | number): void {
    this.size += typeof b === 'number' ? b : b.length;
  }
  take(): Buffer[] {
    return [];
  }
}

/** Bytes gathered before a chunk goes downstream (hashing and gzip work per chunk). */
const CHUNK = 1 << 20;

/**
 * The loop below reads files synchronously, and between two chunks nothing else of the process
 * runs. A final-stage layer's tar is made as its step commits, beside the next steps: without
 * a pause every few ms, the next step could not even look up its cache key until the tar was
 * done (the bench's 300-file COPY --from layer held the next step ~20 ms).
 */
const SLICE_MS = 4;

/**
 * Writes tar entries for a sorted change list; shared by the overlay and tree-diff paths.
 * Headers are encoded synchronously and small bodies read straight into ~1 MiB chunks
 * (tar-writer.ts): a stream entry and a Buffer per file cost more than the files themselves.
 */
export function emitLayer(collect: () => Promise<{ items: ChangeItem[]; xattrs: Map<string, Map<string, Buffer>> }>, options: DiffOptions): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    const { items, xattrs } = await collect();
    options.onChanges?.(items);
    const seenInodes = new Map<string, string>();
    const clamp = (d: Date): Date => (options.sourceDateEpoch !== undefined && d.getTime() > options.sourceDateEpoch * 1000 ? new Date(options.sourceDateEpoch * 1000) : d);
    const tally = options.sizeOnly ? new TarTally() : undefined;
    const tar = tally ?? new TarChunks(CHUNK);
    const marker = (name: string, mtime: Date): TarHeader => ({ name, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: clamp(mtime), uname: '', gname: '' });
    let sliceEnd = Date.now() + SLICE_MS;
    for (const item of items) {
      if (tar.pendingBytes >= CHUNK) yield* tar.take();
      if (Date.now() >= sliceEnd) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceEnd = Date.now() + SLICE_MS;
      }
      if (item.whiteout) {
        const st = lstatSync(item.abs, { throwIfNoEntry: false });
        const dir = path.posix.dirname(item.rel);
        const wh = `${dir === '.' ? '' : `${dir}/`}.wh.${path.posix.basename(item.rel)}`;
        // Header details as Docker/BuildKit write them (seen in `docker save` of a BuildKit RUN):
        // a 0600 regular file carrying the whiteout's owner and time.
        tar.header({ ...marker(wh, st?.mtime ?? new Date(0)), mode: 0o600, uid: st?.uid ?? 0, gid: st?.gid ?? 0 });
        continue;
      }
      const st = item.st ?? lstatSync(item.abs);
      const attrs = xattrs.get(item.abs);
      const base: TarHeader = { name: item.rel, type: 'file', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: clamp(st.mtime), uname: '', gname: '' };
      if (attrs && attrs.size > 0) {
        const pax: Record<string, string> = {};
        for (const [k, v] of [...attrs].sort(([a], [b]) => (a < b ? -1 : 1))) if (!k.startsWith('trusted.overlay.')) pax[`SCHILY.xattr.${k}`] = v.toString('latin1');
        if (Object.keys(pax).length > 0) base.pax = pax;
      }

      if (st.isDirectory()) {
        tar.header({ ...base, name: `${item.rel}/`, type: 'directory' });
        // The opaque marker takes the directory's permission bits and owner, and no time (epoch 0).
        if (item.opaque) tar.header({ ...marker(`${item.rel}/.wh..wh..opq`, new Date(0)), mode: st.mode & 0o777, uid: st.uid, gid: st.gid });
      } else if (st.isSymbolicLink()) {
        tar.header({ ...base, type: 'symlink', linkname: readlinkSync(item.abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seenInodes.get(key) : undefined;
        if (first !== undefined) {
          tar.header({ ...base, type: 'link', linkname: first, size: 0 });
          continue;
        }
        if (st.nlink > 1) seenInodes.set(key, item.rel);
        if (tar instanceof TarTally) {
          tar.header({ ...base, size: st.size });
          tar.bytes(st.size + (tarPadding(st.size)?.length ?? 0));
          continue;
        }
        const fd = openSync(item.abs, 'r');
        try {
          if (st.size < 1 << 20) {
            // Small files (most of a layer) read straight into the chunk; large ones streamed.
            tar.header({ ...base, size: st.size });
            const got = tar.body((b, off, len) => readSync(fd, b, off, len, null), st.size);
            if (got !== st.size) throw new Error(`${item.rel} changed size while its layer was written`);
            continue;
          }
          tar.header({ ...base, size: st.size });
          yield* tar.take();
          let written = 0;
          for await (const chunk of createReadStream('', { fd, autoClose: false, start: 0, end: st.size - 1 })) {
            written += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          if (written !== st.size) throw new Error(`${item.rel} changed size while its layer was written`);
          tar.pad(st.size);
        } finally {
          closeSync(fd);
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        tar.header({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) });
      } else if (st.isFIFO()) {
        tar.header({ ...base, type: 'fifo' });
      }
    }
    tar.bytes(END_OF_TAR);
    yield* tar.take();
    if (tally) options.sizeOnly?.(tally.size);
  }
  return Readable.from(generate(), { objectMode: false });
}
