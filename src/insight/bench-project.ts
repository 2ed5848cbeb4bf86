/**
 * What `tsbuild bench` needs to know about a project before timing it: the base images the
 * Dockerfile starts from (so cold runs begin with them local, as they would for a user who has
 * built before), and the context file the edit scenario changes by default: the first file, in
 * path order, that the Dockerfile's first COPY/ADD from the context reads (.dockerignore
 * respected). Planning only: nothing is built or pulled here.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore, ImageRecord, ImageStore } from '../cache/index.js';
import { createIgnoreMatcher, readDockerignore } from '../context/index.js';
import { TsbuildError } from '../errors/index.js';
import { goMatch, hasWildcard } from '../fileop/index.js';
import type { FileOp, Vertex } from '../graph/index.js';
import { imageLayers, isIndexType, readImage, type ImageIndex, type ImageManifest } from '../oci/index.js';
import { parseDockerfile } from '../parser/index.js';
import { planBuild } from '../plan/index.js';
import { createSnapshotter } from '../snapshot/index.js';
import type { Digest } from '../util/digest.js';

export interface BenchProjectInfo {
  /** Normalized references of the base images (`FROM`), in plan order. */
  baseImages: string[];
  /** Context-relative path of the default edit file, if any COPY/ADD reads a context file. */
  editFile?: string;
}

async function listFiles(contextDir: string, excludes: (rel: string, isDir: boolean) => boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(path.join(contextDir, rel))).sort();
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(path.join(contextDir, r));
      if (excludes(r, st.isDirectory())) continue;
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

/** Whether a COPY source pattern reads the context file `file` (itself, or below a directory it names). */
export function sourceReads(pattern: string, file: string): boolean {
  const p = pattern
    .split('/')
    .filter((x) => x !== '' && x !== '.')
    .join('/');
  if (p === '') return true;
  if (!hasWildcard(p)) return file === p || file.startsWith(`${p}/`);
  const depth = p.split('/').length;
  const parts = file.split('/');
  return parts.length >= depth && goMatch(p, parts.slice(0, depth).join('/'));
}

export async function inspectBenchProject(options: { context: string; dockerfile: string; buildArgs: Record<string, string>; target?: string | undefined }): Promise<BenchProjectInfo> {
  const text = await readFile(options.dockerfile).catch((cause) => {
    throw new TsbuildError('ERR_TSBUILD_DOCKERFILE_NOT_FOUND', `cannot read Dockerfile ${options.dockerfile}`, { cause });
  });
  const ast = parseDockerfile(text, { file: options.dockerfile });
  const { patterns } = await readDockerignore(options.context, options.dockerfile);
  const graph = await planBuild({ ast, buildArgs: options.buildArgs, dockerignore: patterns, ...(options.target ? { target: options.target } : {}) });
  const vertices = Object.values(graph.vertices) as Vertex[];
  const baseImages = [...new Set(vertices.flatMap((v) => (v.op.kind === 'source.image' ? [v.op.ref] : [])))];
  const isContext = (d: Digest) => {
    const op = graph.vertices[d]?.op;
    return op?.kind === 'source.local' && op.name === 'context';
  };
  const copies = vertices
    .filter((v): v is Vertex & { op: FileOp } => v.op.kind === 'file')
    .sort((a, b) => (a.meta.location?.startLine ?? 0) - (b.meta.location?.startLine ?? 0))
    .flatMap((v) => v.op.actions.flatMap((a) => (a.action === 'copy' && isContext(a.from) ? [a.src] : [])));
  if (copies.length === 0) return { baseImages };
  const matcher = createIgnoreMatcher(patterns);
  const files = await listFiles(options.context, (rel, isDir) => matcher.excludes(rel, isDir));
  for (const src of copies) {
    const hit = files.find((f) => src.some((s) => sourceReads(s, f)));
    if (hit) return { baseImages, editFile: hit };
  }
  return { baseImages };
}

/**
 * Copies a local image (manifest or index with the manifests present, configs and layers) from
 * one state root's store to another's, blob by blob with digest checks, and names it there.
 */
export async function copyLocalImage(from: { content: ContentStore; images: ImageStore }, to: { content: ContentStore; images: ImageStore }, record: ImageRecord): Promise<void> {
  const copy = async (d: Digest) => {
    if (!(await to.content.has(d))) await to.content.writeStream(from.content.openRead(d), { digest: d });
  };
  const copyManifest = async (d: Digest) => {
    const doc = await from.content.readJson<ImageManifest | ImageIndex>(d);
    if (isIndexType(doc.mediaType) || 'manifests' in doc) {
      for (const m of (doc as ImageIndex).manifests) if (await from.content.has(m.digest)) await copyManifest(m.digest);
    } else {
      const m = doc as ImageManifest;
      await copy(m.config.digest);
      for (const l of m.layers) await copy(l.digest);
    }
    await copy(d);
  };
  await copyManifest(record.digest);
  await to.images.put(record);
}

/**
 * Unpacks an image's layers into a state root's snapshots, as `docker pull` leaves an image
 * extracted: a cold bench build then starts where BuildKit's does (build cache empty, base image
 * pulled and unpacked), not one layer extraction behind it.
 */
export async function unpackLocalImage(to: { root: string; content: ContentStore }, record: ImageRecord): Promise<void> {
  const snaps = createSnapshotter(to.root);
  for (const l of imageLayers(await readImage(to.content, record.name, record.digest))) await snaps.ensureLayer(l.diffId, () => to.content.openRead(l.blob));
}
