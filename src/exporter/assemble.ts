/**
 * Image assembly: the image config (platform, run config, rootfs diff_ids, history) and the
 * manifest, written to the content store. Same input, same bytes: no maps with unstable order,
 * `created` from SOURCE_DATE_EPOCH when given.
 */
import type { ContentStore } from '../cache/types.js';
import type { HistoryEntry, ImageRunConfig, Platform } from '../graph/index.js';
import { jsonBytes, MediaTypes, type Descriptor, type ImageConfig } from '../oci/index.js';
import type { Digest } from '../util/digest.js';

export interface AssembleInput {
  platform: Platform;
  base?: { config: Record<string, unknown>; layers: Descriptor[] };
  /** Layers the build added, in order (compressed blobs in the store). */
  layers: Array<{ descriptor: Descriptor; diffId: Digest }>;
  /** The stage's history; entries without empty_layer match `layers` one to one. */
  history: Array<HistoryEntry & { created?: Date }>;
  config: ImageRunConfig;
  /** MAINTAINER; when absent the base image's `author` carries over, as BuildKit clones the base config. */
  author?: string;
  created?: Date;
  /** Manifest/config/layer media types: OCI (default) or Docker schema 2. */
  mediaTypes?: 'oci' | 'docker';
}

export interface AssembledImage {
  manifest: Descriptor;
  config: Descriptor;
  manifestBytes: Buffer;
  configBytes: Buffer;
  /** All layers, base first. */
  layers: Descriptor[];
}

/** Drops undefined/null-only noise so equal configs serialise equally. */
function cleanRunConfig(c: ImageRunConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Go struct order of the OCI ImageConfig, then Docker's extension fields: what BuildKit emits.
  const keys: Array<keyof ImageRunConfig> = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped', 'Healthcheck', 'OnBuild', 'Shell'];
  for (const k of keys) {
    const v = c[k];
    if (v === undefined || v === null || v === '') continue;
    // Every field is `omitempty` in BuildKit's image struct: `CMD []`/`ENTRYPOINT []` leave no key.
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = k === 'ExposedPorts' || k === 'Volumes' || k === 'Labels' ? sortObject(v as Record<string, unknown>) : v;
  }
  return out;
}

function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

/** Maps a layer media type to the OCI or Docker spelling of the same compression. */
function layerMediaType(mediaType: string, docker: boolean): string {
  const gzip = mediaType.endsWith('gzip');
  const zstd = mediaType.endsWith('zstd');
  if (docker) {
    // Docker schema 2 has no zstd type; BuildKit keeps the OCI zstd type in docker manifests too.
    return zstd ? MediaTypes.ociLayerZstd : gzip ? MediaTypes.dockerLayerGzip : MediaTypes.dockerLayer;
  }
  return zstd ? MediaTypes.ociLayerZstd : gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer;
}

/** Writes the image config and manifest of a build result to the store; same input, same bytes. */
export async function assembleImage(store: ContentStore, input: AssembleInput): Promise<AssembledImage> {
  const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');
  const fallback = input.created ?? new Date();
  const base = input.base?.config as (Partial<ImageConfig> & Record<string, unknown>) | undefined;
  const baseDiffIds = base?.rootfs?.diff_ids ?? [];
  const baseHistory = base?.history ?? [];
  const history = [
    ...baseHistory,
    ...input.history.map((h) => ({
      created: iso(input.created ?? h.created ?? fallback),
      created_by: h.created_by,
      comment: h.comment ?? 'buildkit.dockerfile.v0',
      ...(h.empty_layer ? { empty_layer: true } : {}),
    })),
  ];
  // The image is as new as its newest step: a fully cached rebuild yields the same image.
  // With SOURCE_DATE_EPOCH the image is exactly that old, even when the base's history is newer (as BuildKit).
  const created = input.created ? iso(input.created) : history.map((h) => h.created ?? '').reduce((a, b) => (b > a ? b : a), '') || iso(fallback);
  const author = input.author ?? (typeof base?.['author'] === 'string' ? base['author'] : undefined);
  // BuildKit re-marshals the config through a Go map, so its top-level keys come out sorted.
  const config: ImageConfig = {
    architecture: input.platform.architecture,
    ...(author ? { author } : {}),
    config: cleanRunConfig(input.config),
    created,
    history,
    os: input.platform.os,
    rootfs: { type: 'layers', diff_ids: [...baseDiffIds, ...input.layers.map((l) => l.diffId)] },
    ...(input.platform.variant ? { variant: input.platform.variant } : {}),
  };
  const configBytes = jsonBytes(config);
  const c = await store.writeBytes(configBytes);
  const docker = input.mediaTypes === 'docker';
  const manifestType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const configDesc: Descriptor = { mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, digest: c.digest, size: c.size };
  const layers = [...(input.base?.layers ?? []), ...input.layers.map((l) => l.descriptor)].map((l) => ({ ...l, mediaType: layerMediaType(l.mediaType, docker) }));
  const manifest = { schemaVersion: 2, mediaType: manifestType, config: configDesc, layers };
  const manifestBytes = jsonBytes(manifest);
  const m = await store.writeBytes(manifestBytes);
  return {
    manifest: { mediaType: manifestType, digest: m.digest, size: m.size, platform: { os: input.platform.os, architecture: input.platform.architecture, ...(input.platform.variant ? { variant: input.platform.variant } : {}) } },
    config: configDesc,
    manifestBytes,
    configBytes,
    layers,
  };
}
