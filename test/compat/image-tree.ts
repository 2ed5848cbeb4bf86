/**
 * Reads an image tarball (an OCI layout, as `tsbuild -o type=oci` and Docker 26's `docker save`
 * both write) into plain data for comparison: the config, and per layer the list of tar entries.
 * Deliberately independent of tsbuild's own readers (src/insight, src/snapshot), so a bug there
 * cannot hide the same bug in what it is checking. Decompression: gzip via zlib, zstd via zstd(1).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** Normalised: no leading `./` or `/`, no trailing `/`. */
  path: string;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** sha256 of the content, files only. */
  sha256?: string;
  /** Symlink target or hard-link target (normalised like path). */
  link?: string;
  /** Character and block devices: major,minor. */
  dev?: string;
  /** Extended attributes (PAX SCHILY.xattr.*): name=sha256 prefix of the value, sorted. */
  xattrs?: string;
  mtime: number;
}

export interface ImageData {
  config: Record<string, any>;
  layers: TarEntry[][];
}

const norm = (p: string): string => p.replace(/^\.?\/+/, '').replace(/^\.$/, '').replace(/\/+$/, '');

function decompress(b: Buffer): Buffer {
  if (b[0] === 0x1f && b[1] === 0x8b) return gunzipSync(b);
  if (b.readUInt32LE(0) === 0xfd2fb528) return execFileSync('zstd', ['-dc'], { input: b, maxBuffer: 1 << 30 });
  return b;
}

const TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

export async function readLayer(tar: Buffer): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const ex = extract();
  Readable.from([tar]).pipe(ex);
  for await (const entry of ex) {
    const h = entry.header;
    const type = TYPES[h.type];
    const hash = createHash('sha256');
    for await (const c of entry) hash.update(c as Buffer);
    if (!type) continue; // pax/gnu extension headers are folded in by tar-stream
    const e: TarEntry = { path: norm(h.name), type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: type === 'file' ? (h.size ?? 0) : 0, mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0 };
    if (type === 'file') e.sha256 = hash.digest('hex');
    if (type === 'symlink') e.link = h.linkname ?? '';
    if (type === 'hardlink') e.link = norm(h.linkname ?? '');
    if (type === 'char' || type === 'block') e.dev = `${h.devmajor ?? 0},${h.devminor ?? 0}`;
    const pax = (h as { pax?: Record<string, string> }).pax ?? {};
    const xattrs = Object.keys(pax)
      .filter((k) => k.startsWith('SCHILY.xattr.'))
      .sort()
      .map((k) => `${k.slice(13)}=${createHash('sha256').update(pax[k]!, 'latin1').digest('hex').slice(0, 12)}`);
    if (xattrs.length > 0) e.xattrs = xattrs.join(',');
    out.push(e);
  }
  return out;
}

/** Reads the single image of an OCI-layout tarball (following nested indexes to linux/amd64 or the first manifest). */
export async function readImage(tarball: string): Promise<ImageData> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-compat-img-'));
  try {
    execFileSync('tar', ['-C', dir, '-xf', tarball]);
    const blob = (d: string) => readFile(path.join(dir, 'blobs', 'sha256', d.replace(/^sha256:/, '')));
    let doc = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'));
    for (let depth = 0; Array.isArray(doc.manifests) && depth < 4; depth++) {
      const ms = doc.manifests as Array<{ digest: string; platform?: { architecture?: string } }>;
      const pick = ms.find((m) => !m.platform || m.platform.architecture === 'amd64') ?? ms[0];
      if (!pick) throw new Error(`${tarball}: empty index`);
      doc = JSON.parse((await blob(pick.digest)).toString('utf8'));
    }
    const config = JSON.parse((await blob(doc.config.digest)).toString('utf8'));
    const layers: TarEntry[][] = [];
    for (const l of doc.layers as Array<{ digest: string }>) layers.push(await readLayer(decompress(await blob(l.digest))));
    return { config, layers };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * Applies the layers in order (OCI whiteout rules) and returns the final filesystem, keyed by path.
 * Hard links are resolved to the entry they point at, but keep type `hardlink` and their target
 * so that a copy where a link was expected (or the reverse) shows up.
 */
export function flatten(layers: TarEntry[][]): Map<string, TarEntry> {
  const fs = new Map<string, TarEntry>();
  const removeTree = (p: string) => {
    for (const k of [...fs.keys()]) if (k === p || k.startsWith(`${p}/`)) fs.delete(k);
  };
  for (const layer of layers) {
    // Opaque markers and whiteouts apply to lower layers only, so handle them before additions.
    for (const e of layer) {
      const base = path.posix.basename(e.path);
      const parent = path.posix.dirname(e.path) === '.' ? '' : path.posix.dirname(e.path);
      if (base === OPAQUE) {
        for (const k of [...fs.keys()]) if (parent === '' ? k !== '' : k.startsWith(`${parent}/`)) fs.delete(k);
      } else if (base.startsWith(WH)) {
        removeTree(path.posix.join(parent, base.slice(WH.length)));
      }
    }
    for (const e of layer) {
      const base = path.posix.basename(e.path);
      if (base.startsWith(WH) || e.path === '') continue;
      // A non-directory replacing anything, or a directory replacing a non-directory, drops the old subtree.
      const old = fs.get(e.path);
      if (old && (e.type !== 'dir' || old.type !== 'dir')) removeTree(e.path);
      fs.set(e.path, e);
    }
  }
  return fs;
}

/** A stable, diffable one-line description of an entry (mtime left out on purpose). */
export function describe(e: TarEntry, fsMap?: Map<string, TarEntry>): string {
  const mode = e.mode.toString(8).padStart(4, '0');
  let extra = '';
  if (e.type === 'file') extra = ` size=${e.size} sha256=${e.sha256!.slice(0, 16)}`;
  if (e.type === 'symlink') extra = ` -> ${e.link}`;
  if (e.type === 'hardlink') {
    const target = fsMap?.get(e.link!);
    extra = ` => ${e.link}${target?.sha256 ? ` sha256=${target.sha256.slice(0, 16)}` : ''}`;
  }
  if (e.dev) extra += ` dev=${e.dev}`;
  if (e.xattrs) extra += ` xattrs=${e.xattrs}`;
  return `${e.path || '/'} ${e.type} ${mode} ${e.uid}:${e.gid}${extra}`;
}
