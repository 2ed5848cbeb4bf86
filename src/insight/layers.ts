/**
 * `tsbuild layers`: what each layer of an image holds and which of its bytes are wasted
 * (deleted or overwritten by a later layer), with dive's efficiency score. The JSON form is
 * a stable schema (`schemaVersion`), documented in the command's help and the README.
 */
import type { Digest } from '../util/digest.js';
import type { AnalyzableImage } from './image-source.js';
import type { LayerScan } from './layer-scan.js';
import { computeWaste, type HiddenFile } from './layer-waste.js';

export interface FileSize {
  path: string;
  size: number;
}

export interface LayerReport {
  index: number;
  /** Digest of the blob as stored (compressed). */
  digest: Digest;
  /** Digest of the uncompressed tar. */
  diffId: Digest;
  mediaType: string;
  /** The history entry that made the layer (config history without empty_layer entries). */
  createdBy: string | null;
  compressedSize: number;
  uncompressedSize: number;
  /** Non-directory entries, whiteouts excluded. */
  files: number;
  /** Bytes of regular-file content. */
  fileBytes: number;
  /** Whiteouts and opaque markers (deletions of lower content). */
  deletions: number;
  /** Bytes of this layer's files that later layers delete or overwrite. */
  wastedBytes: number;
  /** Bytes of earlier layers' files this layer deletes or overwrites. */
  removedBytes: number;
  /** The largest files, biggest first (`--top`). */
  largest: FileSize[];
}

export interface LayersReport {
  schemaVersion: 1;
  /** The image ID (config digest). */
  config: Digest;
  platform: string;
  layers: LayerReport[];
  /** Bytes of regular-file content over all layers. */
  totalBytes: number;
  /** Bytes of file versions not visible in the final filesystem. */
  wastedBytes: number;
  /** (totalBytes - wastedBytes) / totalBytes; 1 for an image without file content. */
  efficiency: number;
  /** The largest hidden file versions, biggest first (`--top`). */
  wasted: HiddenFile[];
}

function topN<T extends { size: number; path: string }>(xs: T[], n: number): T[] {
  return [...xs].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).slice(0, n);
}

export function buildLayersReport(image: AnalyzableImage, scans: LayerScan[], options: { top?: number } = {}): LayersReport {
  const top = options.top ?? 5;
  const history = (image.config.history ?? []).filter((h) => !h.empty_layer);
  const waste = computeWaste(scans.map((s) => s.entries));
  const layers = scans.map((s, i): LayerReport => {
    const files = s.entries.filter((e) => e.kind !== 'dir' && !e.path.split('/').pop()!.startsWith('.wh.'));
    const l = image.layers[i]!;
    return {
      index: i,
      digest: l.digest,
      diffId: s.diffId,
      mediaType: l.mediaType,
      createdBy: history[i]?.created_by ?? null,
      compressedSize: l.size,
      uncompressedSize: s.uncompressedSize,
      files: files.length,
      fileBytes: files.reduce((a, e) => a + e.size, 0),
      deletions: s.entries.filter((e) => e.path.split('/').pop()!.startsWith('.wh.')).length,
      wastedBytes: waste.wastedBytes[i]!,
      removedBytes: waste.removedBytes[i]!,
      largest: topN(
        files.filter((e) => e.kind === 'file').map((e) => ({ path: `/${e.path}`, size: e.size })),
        top,
      ),
    };
  });
  const totalBytes = layers.reduce((a, l) => a + l.fileBytes, 0);
  const wastedBytes = layers.reduce((a, l) => a + l.wastedBytes, 0);
  const c = image.config;
  return {
    schemaVersion: 1,
    config: image.configDigest,
    platform: `${c.os}/${c.architecture}${c.variant ? `/${c.variant}` : ''}`,
    layers,
    totalBytes,
    wastedBytes,
    efficiency: totalBytes === 0 ? 1 : (totalBytes - wastedBytes) / totalBytes,
    wasted: topN(waste.hidden, top),
  };
}

export async function analyzeImageLayers(image: AnalyzableImage, options: { top?: number } = {}): Promise<LayersReport> {
  return buildLayersReport(image, await image.scanLayers(), options);
}
