/**
 * Applying a layer tar to a directory, refusing anything that would write outside it.
 *
 * Every entry name must be relative and free of `..`; parent directories are resolved one
 * component at a time with lstat, following symlinks with the destination as `/` (absolute
 * targets are re-rooted, relative ones may not climb above the root); hardlink targets get the
 * same treatment. OCI whiteouts are applied either by deleting (`merge`, for flattening) or by
 * recording them the way overlayfs expects (`overlay`: a 0/0 character device for a deleted
 * entry, the `trusted.overlay.opaque` xattr for an opaque directory).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { TsbuildError } from '../errors/index.js';
import type { Digest } from '../util/digest.js';
import { hostCommand } from '../util/host-command.js';
import { makeSpecialFile } from '../util/special-files.js';
import { entryMtime } from '../util/tar-time.js';

export type UnpackMode = 'merge' | 'overlay';

export interface UnpackResult {
  diffId: Digest;
  /** Uncompressed tar size. */
  size: number;
  entries: number;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

function unsafe(name: string, why: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_LAYER_UNSAFE', `layer entry "${name}" ${why}; the layer was refused`);
}

/** Validates and normalises an entry name to a relative path without `.`/`..` parts. */
export function cleanEntryName(name: string): string {
  if (name.startsWith('/')) throw unsafe(name, 'is an absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw unsafe(name, 'climbs out of the root with ..');
  return parts.join('/');
}

/**
 * Resolves a relative path's *parent* inside `root`, following symlinks chroot-style.
 * Returns the host path of the parent directory (which may not exist yet) and the leaf name.
 */
export async function resolveInRoot(root: string, rel: string, entry: string): Promise<string> {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      if (resolved.length === 0) throw unsafe(entry, 'resolves through a symlink to outside the root');
      resolved.pop();
      continue;
    }
    const host = path.join(root, ...resolved, part);
    // Synchronous metadata calls: unpacking makes thousands of them, and an awaited call pays a
    // thread-pool round trip each.
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) {
      resolved.push(part, ...parts);
      break;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw unsafe(entry, 'has too many levels of symbolic links');
      const target = readlinkSync(host);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** How the layer stream is compressed; `auto` sniffs the magic bytes. */
export type LayerCompression = 'auto' | 'gzip' | 'zstd' | 'none';

function decompressor(first: Buffer, wanted: LayerCompression): Transform | undefined {
  const isGzip = first[0] === 0x1f && first[1] === 0x8b;
  const isZstd = first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd;
  const kind = wanted === 'auto' ? (isGzip ? 'gzip' : isZstd ? 'zstd' : 'none') : wanted;
  if (kind === 'gzip') return createGunzip();
  if (kind === 'zstd') return spawnFilter('zstd', ['-dc']);
  return undefined;
}

/**
 * A Transform backed by a child process (zstd has no zlib binding on Node 20). Output is pushed
 * as it arrives so the child never blocks on a full pipe; a non-zero exit is an error, so a
 * corrupt stream cannot pass as a short tar.
 */
function spawnFilter(cmd: string, args: string[]): Transform {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${stderr.trim()}`))));
  });
  exited.catch(() => {});
  const t = new Transform({
    transform(chunk, _e, cb) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once('drain', () => cb());
    },
    flush(cb) {
      child.stdin.end();
      exited.then(() => cb(), cb);
    },
    destroy(err, cb) {
      child.kill();
      cb(err);
    },
  });
  child.stdin.on('error', () => {});
  child.stdout.on('data', (d: Buffer) => {
    if (!t.push(d)) child.stdout.pause();
  });
  t.on('drain', () => child.stdout.resume());
  // Readable side: resume the child's output whenever the consumer asks for more.
  const read = t._read.bind(t);
  t._read = (n: number) => {
    child.stdout.resume();
    read(n);
  };
  exited.catch((e: Error) => t.destroy(e));
  return t;
}

/** Peeks the first bytes of a stream to choose a decompressor, then yields the raw tar. */
export async function* decompressed(source: AsyncIterable<Uint8Array>, wanted: LayerCompression): AsyncIterable<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = Buffer.from(first.value);
  const rest = (async function* () {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  })();
  const d = decompressor(head, wanted);
  if (!d) {
    yield* rest;
    return;
  }
  const src = Readable.from(rest);
  src.on('error', (e) => d.destroy(e));
  yield* src.pipe(d);
}

function removeTree(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

export async function unpackLayer(source: AsyncIterable<Uint8Array>, destDir: string, options: { mode?: UnpackMode; compression?: LayerCompression } = {}): Promise<UnpackResult> {
  const mode = options.mode ?? 'merge';
  const root = path.resolve(destDir);
  await mkdir(root, { recursive: true });
  const hash = createHash('sha256');
  let size = 0;
  let entries = 0;
  const dirTimes: Array<[string, Date]> = [];
  // Host paths this layer wrote: an opaque marker hides lower content only, whatever its position.
  const written = new Set<string>();
  const ex = extract();

  ex.on('entry', (header: Header, stream, next) => {
    entries++;
    applyEntry(header, stream)
      .then(() => next())
      .catch((err) => {
        stream.resume();
        ex.destroy(err);
      });
  });

  const applyEntry = async (h: Header, stream: AsyncIterable<unknown> & { resume(): unknown }): Promise<void> => {
    const rel = cleanEntryName(h.name);
    if (rel === '') {
      stream.resume();
      return;
    }
    const dirRel = path.posix.dirname(rel);
    const base = path.posix.basename(rel);
    const parent = dirRel === '.' ? root : await resolveInRoot(root, dirRel, h.name);
    mkdirSync(parent, { recursive: true });
    const target = path.join(parent, base);

    if (base === OPAQUE) {
      stream.resume();
      if (mode === 'merge') {
        // Opaque: the directory's lower content disappears.
        for (const n of readdirSync(parent)) if (!written.has(path.join(parent, n))) removeTree(path.join(parent, n));
      } else {
        await hostCommand('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', parent]);
      }
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      stream.resume();
      const name = base.slice(WHITEOUT_PREFIX.length);
      // `.wh.` / `.wh..` / `.wh...` would name the parent or grandparent: deleting those is an escape.
      if (name === '' || name === '.' || name === '..') throw unsafe(h.name, 'is a whiteout that names its own or a parent directory');
      const victim = path.join(parent, name);
      removeTree(victim);
      if (mode === 'overlay') await makeSpecialFile(victim, 'c', 0, 0);
      return;
    }
    // Replace whatever is there unless both are directories (a dir entry updates metadata).
    written.add(target);
    const existing = lstatSync(target, { throwIfNoEntry: false });
    if (existing && !(existing.isDirectory() && h.type === 'directory')) removeTree(target);

    switch (h.type) {
      case 'directory':
        mkdirSync(target, { recursive: true });
        stream.resume();
        break;
      case 'file':
      case 'contiguous-file': {
        const fd = openSync(target, 'wx', 0o600);
        try {
          for await (const chunk of stream) {
            const b = chunk as Buffer;
            for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
          }
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink':
        stream.resume();
        symlinkSync(h.linkname ?? '', target);
        break;
      case 'link': {
        stream.resume();
        const linkRel = cleanEntryName(h.linkname ?? '');
        if (linkRel === '') throw unsafe(h.name, 'hard-links to the root itself');
        // Resolve the target's parents but not the target: a hard link to a symlink links the
        // symlink itself (link(2) does not follow), exactly as tar means it.
        const linkDir = path.posix.dirname(linkRel);
        const src = path.join(linkDir === '.' ? root : await resolveInRoot(root, linkDir, h.name), path.posix.basename(linkRel));
        if (!src.startsWith(root + path.sep)) throw unsafe(h.name, 'hard-links to outside the root');
        linkSync(src, target);
        return;
      }
      case 'character-device':
      case 'block-device':
        stream.resume();
        await makeSpecialFile(target, h.type === 'character-device' ? 'c' : 'b', h.devmajor ?? 0, h.devminor ?? 0);
        break;
      case 'fifo':
        stream.resume();
        await makeSpecialFile(target, 'p');
        break;
      default:
        // pax headers etc. are consumed by tar-stream; anything else is skipped.
        stream.resume();
        return;
    }
    lchownSync(target, h.uid ?? 0, h.gid ?? 0);
    if (h.type !== 'symlink') chmodSync(target, (h.mode ?? 0o644) & 0o7777);
    const xattrs = Object.entries((h.pax ?? {}) as Record<string, string>)
      // overlayfs's own xattrs would let a layer steer the overlay (redirects, origins): whiteouts
      // and opaque dirs come only from .wh. entries.
      .filter(([k]) => k.startsWith('SCHILY.xattr.') && !k.startsWith('SCHILY.xattr.trusted.overlay.'));
    for (const [k, v] of xattrs) {
      const set = hostCommand('setfattr', ['-h', '-n', k.slice('SCHILY.xattr.'.length), '-v', `0x${Buffer.from(v, 'latin1').toString('hex')}`, target]);
      // Linux refuses user.* xattrs on symlinks; layers made elsewhere sometimes carry them anyway.
      if (h.type === 'symlink') await set.catch(() => {});
      else await set;
    }
    const mtime = entryMtime(h);
    if (h.type === 'directory') dirTimes.push([target, mtime]);
    else lutimesSync(target, mtime, mtime);
  };

  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.from(decompressed(source, options.compression ?? 'auto')), counter, ex);
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    throw new TsbuildError('ERR_TSBUILD_LAYER_FORMAT', `layer is not a valid tar stream: ${(err as Error).message}`, { cause: err });
  }
  // Directory mtimes last: writing children would have bumped them.
  for (const [d, t] of dirTimes.reverse()) {
    try {
      lutimesSync(d, t, t);
    } catch {
      // a directory a later whiteout removed
    }
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size, entries };
}
