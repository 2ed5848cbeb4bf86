/**
 * Hand-made OCI image layouts for registry tests: single- and multi-platform images whose
 * layers we control, written as plain files so that skopeo (not tsbuild) pushes them.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { busyboxTar } from './tsbuild.js';

export interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface LayerSpec {
  /** Uncompressed tar. */
  tar: Buffer;
}

export interface PlatformImage {
  platform: { os: string; architecture: string; variant?: string };
  layers: LayerSpec[];
  env?: string[];
}

const blobOf = (bytes: Buffer): Blob => ({ digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length, bytes });

/** A tar of the given files (path -> content), made by GNU tar with fixed owners and times. */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layer-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), content);
    }
    return execFileSync('tar', ['-C', dir, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', '-cf', '-', ...Object.keys(files)], { maxBuffer: 512 * 1024 * 1024 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The busybox root filesystem as an uncompressed tar (made once per process). */
export async function busyboxLayer(): Promise<LayerSpec> {
  return { tar: await readFile(busyboxTar()) };
}

/** `n` bytes that no compressor can shrink. */
export const randomFile = (n: number): Buffer => randomBytes(n);

export interface WrittenImage {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  platform: PlatformImage['platform'];
}

/**
 * Writes an OCI layout at `dir` holding `images` under `tag`: one platform gives a plain
 * manifest, several give an index (optionally with an attestation-like unknown/unknown entry first).
 */
export async function writeLayout(dir: string, tag: string, images: PlatformImage[], options: { unknownEntry?: boolean } = {}): Promise<{ written: WrittenImage[]; index?: Blob }> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Blob): Promise<Blob> => {
    await writeFile(path.join(blobs, b.digest.slice(7)), b.bytes);
    return b;
  };
  const written: WrittenImage[] = [];
  for (const img of images) {
    const layers = await Promise.all(img.layers.map((l) => put(blobOf(gzipSync(l.tar, { level: 1 })))));
    const diffIds = img.layers.map((l) => blobOf(l.tar).digest);
    const config = await put(
      blobOf(
        Buffer.from(
          JSON.stringify({
            architecture: img.platform.architecture,
            os: img.platform.os,
            ...(img.platform.variant ? { variant: img.platform.variant } : {}),
            created: '2024-01-01T00:00:00Z',
            config: { Env: img.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
            rootfs: { type: 'layers', diff_ids: diffIds },
            history: img.layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test layer' })),
          }),
        ),
      ),
    );
    const manifest = await put(
      blobOf(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
            layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
          }),
        ),
      ),
    );
    written.push({ manifest, config, layers, platform: img.platform });
  }
  const top = async (desc: object): Promise<void> => {
    await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [desc] }));
  };
  const annotation = { 'org.opencontainers.image.ref.name': tag };
  if (written.length === 1) {
    const m = written[0]!.manifest;
    await top({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.size, annotations: annotation });
    return { written };
  }
  const entries: object[] = [];
  if (options.unknownEntry) {
    // Like BuildKit's attestation manifests: platform unknown/unknown, never a build base. It
    // points at the last platform's manifest, so choosing it by mistake shows in the result.
    const m = written[written.length - 1]!.manifest;
    entries.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.size, platform: { os: 'unknown', architecture: 'unknown' } });
  }
  for (const w of written) entries.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: w.manifest.digest, size: w.manifest.size, platform: w.platform });
  const index = await put(blobOf(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }))));
  await top({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: index.digest, size: index.size, annotations: annotation });
  return { written, index };
}

/** `skopeo copy` of a layout to a loopback registry; `format` forces Docker v2s2 or OCI types, `zstd` recompresses the layers. */
export function skopeoPush(layoutDir: string, tag: string, dest: string, options: { format?: 'v2s2' | 'oci'; multiArch?: boolean; zstd?: boolean } = {}): void {
  execFileSync(
    'skopeo',
    [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      ...(options.format ? ['--format', options.format] : []),
      ...(options.multiArch ? ['--multi-arch', 'all'] : []),
      ...(options.zstd ? ['--dest-compress', '--dest-compress-format', 'zstd'] : []),
      `oci:${layoutDir}:${tag}`,
      `docker://${dest}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

/** The raw manifest (or index) a registry serves for `ref`, its digest and media type. */
export function skopeoRaw(ref: string): { digest: string; mediaType: string; manifests?: Array<{ digest: string; platform?: { os: string; architecture: string } }>; layers?: Array<{ digest: string; mediaType: string }> } {
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return { ...(JSON.parse(raw.toString('utf8')) as object), digest: blobOf(raw).digest } as ReturnType<typeof skopeoRaw>;
}
