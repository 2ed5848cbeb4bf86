/**
 * ADD's local archive extraction. A source file is an archive when its first bytes are a
 * known compression magic (gzip, bzip2, xz, zstd) followed by a tar stream, or a plain tar
 * (ustar magic at offset 257); anything else is copied as a file, like Docker's
 * DetectCompression + IsArchive. Extraction refuses tar-slip: entries whose path leaves the
 * destination, links whose targets leave it, and writes through symlinks inside it.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, mkdir, lstat, rm, symlink, link, chmod, chown, lchown, utimes, lutimes } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import * as tarStream from 'tar-stream';
import { TsbuildError } from '../errors/index.js';
import { climbsAbove, resolveInRoot } from './paths.js';
import { writeXattrs } from './xattr.js';
import { makeSpecialFile } from '../util/special-files.js';
import { entryMtime } from '../util/tar-time.js';

/**
 * PAX `SCHILY.xattr.NAME` records as setfattr arguments (Docker's untar applies them).
 * tar-stream decodes PAX values as UTF-8, so values with bytes that are not valid UTF-8 can be
 * altered; text values and typical capability sets survive.
 */
function paxXattrs(pax: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries((pax ?? {}) as Record<string, string>)) {
    if (k.startsWith('SCHILY.xattr.')) out.push([k.slice(13), '0x' + Buffer.from(v, 'utf8').toString('hex')]);
  }
  return out;
}

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Compression detected from magic bytes. */
export function detectCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return 'none';
}

function decompress(file: string, c: Compression): { stream: Readable; done: Promise<void> } {
  if (c === 'none') return { stream: createReadStream(file), done: Promise.resolve() };
  if (c === 'gzip') {
    const gz = createGunzip();
    const done = pipeline(createReadStream(file), gz).then(() => undefined);
    return { stream: gz, done };
  }
  const bin = c === 'bzip2' ? 'bzip2' : c === 'xz' ? 'xz' : 'zstd';
  const child = spawn(bin, ['-d', '-c', '-q', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} failed: ${stderr.trim()}`))));
  });
  return { stream: child.stdout, done };
}

/** Whether `file` is a (possibly compressed) tar archive that ADD should extract. */
export async function isArchive(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(512);
  let n: number;
  try {
    ({ bytesRead: n } = await fh.read(head, 0, 512, 0));
  } finally {
    await fh.close();
  }
  const c = detectCompression(head.subarray(0, n));
  if (c !== 'none') return await firstTarHeaderOk(file, c);
  return n === 512 && looksLikeTarHeader(head);
}

function looksLikeTarHeader(h: Buffer): boolean {
  const magic = h.subarray(257, 262).toString('latin1');
  if (magic === 'ustar') return true;
  // V7 tar: no magic; the checksum field must match the header bytes.
  const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === stored;
}

async function firstTarHeaderOk(file: string, c: Compression): Promise<boolean> {
  const { stream, done } = decompress(file, c);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= 512) break;
    }
  } catch {
    return false;
  } finally {
    stream.destroy();
    done.catch(() => undefined);
  }
  const head = Buffer.concat(chunks);
  return head.length >= 512 && looksLikeTarHeader(head.subarray(0, 512));
}

function unsafe(msg: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_ADD_ARCHIVE_UNSAFE', msg);
}

/**
 * Extracts the archive into `destDir` (a host directory). Archive ownership and modes are kept
 * (Docker does not apply --chown to extracted files); mtimes come from the headers.
 */
export async function extractArchive(file: string, destDir: string, signal: AbortSignal): Promise<{ bytes: number; files: number }> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(6);
  await fh.read(head, 0, 6, 0);
  await fh.close();
  const { stream, done } = decompress(file, detectCompression(head));
  const extract = tarStream.extract();
  let bytes = 0;
  let files = 0;
  const dirTimes: Array<[string, Date]> = [];
  stream.pipe(extract);
  for await (const entry of extract) {
    if (signal.aborted) {
      stream.destroy();
      throw new TsbuildError('ERR_TSBUILD_CANCELLED', 'extraction cancelled');
    }
    const h = entry.header;
    const name = h.name;
    if (climbsAbove(name)) throw unsafe(`archive entry ${JSON.stringify(name)} leaves the destination`);
    const clean = path.posix.normalize('/' + name).slice(1).replace(/\/$/, '');
    if (clean === '') {
      entry.resume();
      continue;
    }
    // Parents resolve within the destination, so an earlier symlink entry cannot redirect us.
    const parent = await resolveInRoot(destDir, path.posix.dirname(clean), { followLast: true, escapeError: 'ERR_TSBUILD_ADD_ARCHIVE_UNSAFE' });
    const target = path.join(parent, path.posix.basename(clean));
    await mkdir(parent, { recursive: true });
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = entryMtime(h);
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    if (h.type === 'directory') {
      const st = await lstat(target).catch(() => undefined);
      if (st && !st.isDirectory()) await rm(target, { force: true });
      if (!st || !st.isDirectory()) await mkdir(target);
      await chown(target, uid, gid);
      await chmod(target, mode);
      await writeXattrs(target, paxXattrs(h.pax));
      dirTimes.push([target, mtime]);
      entry.resume();
      continue;
    }
    await rm(target, { force: true, recursive: false }).catch(() => undefined);
    if (h.type === 'file' || h.type === 'contiguous-file') {
      await pipeline(entry, createWriteStream(target, { mode: 0o600 }));
      bytes += h.size ?? 0;
      files++;
      await chown(target, uid, gid);
      await chmod(target, mode);
      await writeXattrs(target, paxXattrs(h.pax));
      await utimes(target, mtime, mtime);
      continue;
    }
    entry.resume();
    if (h.type === 'symlink') {
      // Any target is kept, as BuildKit keeps it (`dir/sl -> ../../../outside`): a symlink is only
      // text here, and later entries resolve their parents inside the destination (above).
      const linkname = h.linkname ?? '';
      await symlink(linkname, target);
      await lchown(target, uid, gid);
      await lutimes(target, mtime, mtime);
    } else if (h.type === 'link') {
      const linkname = h.linkname ?? '';
      if (climbsAbove(linkname)) throw unsafe(`hardlink ${clean} -> ${linkname} leaves the destination`);
      const src = await resolveInRoot(destDir, linkname, { followLast: false, escapeError: 'ERR_TSBUILD_ADD_ARCHIVE_UNSAFE' });
      await link(src, target);
      // The link entry's own owner, mode and time are applied to the shared inode, as BuildKit's
      // unpacker does (a later entry replacing the original leaves the link with these).
      await chown(target, uid, gid);
      await chmod(target, mode);
      await utimes(target, mtime, mtime);
    } else if (h.type === 'fifo') {
      // Named pipes are recreated, as BuildKit does.
      await makeSpecialFile(target, 'p');
      await chown(target, uid, gid);
      await chmod(target, mode);
      await utimes(target, mtime, mtime);
    } else if (h.type === 'character-device' || h.type === 'block-device') {
      // Recreated, as BuildKit's ADD does (Docker 26 lab: `ADD dev.tar` keeps c 1,3 and b 7,0).
      // In a user namespace (rootless) mknod is refused: the device is left out, as moby does there.
      const made = await makeSpecialFile(target, h.type === 'character-device' ? 'c' : 'b', h.devmajor ?? 0, h.devminor ?? 0).then(
        () => true,
        () => false,
      );
      if (made) {
        await chown(target, uid, gid);
        await chmod(target, mode);
        await utimes(target, mtime, mtime);
      }
    }
  }
  await done;
  for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t);
  return { bytes, files };
}
