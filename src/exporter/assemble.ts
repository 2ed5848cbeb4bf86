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
  created?: Date;
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
  const keys: Array<keyof ImageRunConfig> = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'OnBuild', 'StopSignal', 'Healthcheck', 'Shell', 'ArgsEscaped'];
  for (const k of keys) {
    const v = c[k];
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v) && v.length === 0 && k !== 'Cmd' && k !== 'Entrypoint') continue;
    out[k] = k === 'ExposedPorts' || k === 'Volumes' || k === 'Labels' ? sortObject(v as Record<string, unknown>) : v;
  }
  return out;
}

function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

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
  const created = history.map((h) => h.created ?? '').reduce((a, b) => (b > a ? b : a), input.created ? iso(input.created) : '') || iso(fallback);
  const config: ImageConfig = {
    architecture: input.platform.architecture,
    os: input.platform.os,
    ...(input.platform.variant ? { variant: input.platform.variant } : {}),
    created,
    config: cleanRunConfig(input.config),
    rootfs: { type: 'layers', diff_ids: [...baseDiffIds, ...input.layers.map((l) => l.diffId)] },
    history,
  };
  const configBytes = jsonBytes(config);
  const c = await store.writeBytes(configBytes);
  const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: c.digest, size: c.size };
  const layers = [...(input.base?.layers ?? []), ...input.layers.map((l) => l.descriptor)];
  const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers };
  const manifestBytes = jsonBytes(manifest);
  const m = await store.writeBytes(manifestBytes);
  return {
    manifest: { mediaType: MediaTypes.ociManifest, digest: m.digest, size: m.size, platform: { os: input.platform.os, architecture: input.platform.architecture, ...(input.platform.variant ? { variant: input.platform.variant } : {}) } },
    config: configDesc,
    manifestBytes,
    configBytes,
    layers,
  };
}
