/**
 * Layer compression variants for `force-compression=true`: a stored layer (blob + diff_id) is
 * decompressed and re-encoded in the exporter's compression and level, and the result is stored
 * in the content store like any blob. The mapping (diff_id, compression, level) -> blob is kept in
 * <root>/cache/compression-variants.json, so a rebuild finds the converted blob with one read and
 * a stat instead of recompressing every layer again.
 *
 * Without force-compression, existing layers (base image layers, layers from the cache made with
 * another compression) are exported as they are; only new layers take the requested compression.
 * That is BuildKit's rule: a layer that already has a blob keeps it unless the export forces.
 *
 * Layers a build makes are stored uncompressed (`lazy`, digest = diff_id), as BuildKit keeps a
 * snapshot's diff uncompressed and makes a compressed blob only when an exporter needs one. Every
 * export converts them: to the compression and level recorded when the layer was made (the first
 * image exporter's, gzip by default, so the bytes are those a compress-at-commit build gave), or
 * to the export's own compression when force-compression=true asks for a different one. The
 * variants are remembered here like forced ones, so a layer is compressed once per setting.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { ContentStore, ReleaseLock } from '../cache/index.js';
import { TsbuildError } from '../errors/index.js';
import type { BuildContext } from '../progress/index.js';
import { compressLayer, decompressLayer, LAYER_MEDIA_TYPES, type Compression } from '../snapshot/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { isDigest, type Digest } from '../util/digest.js';

/** A stored layer: the solver's LayerRef shape (the exporter does not import solver/). */
export interface StoredLayerRef {
  diffId: Digest;
  blob: Digest;
  mediaType: string;
  size: number;
  /** A layer this store made, kept uncompressed: exports compress it (see the module comment). */
  lazy?: { compression: 'gzip' | 'zstd'; level?: number } | undefined;
}

/** What an export asks of its layers. */
export interface CompressionTarget {
  compression: Compression;
  /** compression-level; undefined means the compression's default. */
  level?: number | undefined;
  /** force-compression=true: re-encode layers whose compression differs. */
  force: boolean;
}

export interface LayerConverterOptions {
  store: ContentStore;
  /** The state root (the variant index lives in <root>/cache). */
  root: string;
  /** Cross-process lock (StateRoot.lock): serialises index updates between concurrent builds. */
  lock: (name: string) => Promise<ReleaseLock>;
}

export interface LayerConverter {
  /** The layers to export for `target`: the same array when nothing needs re-encoding. */
  convert(ctx: BuildContext, layers: StoredLayerRef[], target: CompressionTarget): Promise<StoredLayerRef[]>;
}

interface VariantEntry {
  blob: Digest;
  size: number;
  mediaType: string;
}

/** gzip, zstd or uncompressed, from a layer media type (OCI or Docker spelling). */
export function compressionOfMediaType(mediaType: string): Compression {
  if (mediaType.endsWith('gzip')) return 'gzip';
  if (mediaType.endsWith('zstd')) return 'zstd';
  return 'uncompressed';
}

/** True when an export with `target` must re-encode at least one of `layers`. */
export function needsConversion(layers: StoredLayerRef[], target: CompressionTarget): boolean {
  return layers.some((l) => l.lazy !== undefined) || (target.force && layers.some((l) => compressionOfMediaType(l.mediaType) !== target.compression));
}

/** The blob encoding a layer gets in an export with `target`; undefined keeps the stored blob. */
function wantedFor(l: StoredLayerRef, target: CompressionTarget): CompressionTarget | undefined {
  if (l.lazy) {
    // force-compression with another compression wins; otherwise the layer's own (level included).
    if (target.force && target.compression !== l.lazy.compression) return target.compression === 'uncompressed' ? undefined : target;
    return { compression: l.lazy.compression, level: l.lazy.level, force: false };
  }
  if (!target.force || compressionOfMediaType(l.mediaType) === target.compression) return undefined;
  return target;
}

const plain = (l: StoredLayerRef): StoredLayerRef => ({ diffId: l.diffId, blob: l.blob, mediaType: l.mediaType, size: l.size });

const variantKey = (diffId: Digest, target: CompressionTarget): string => `${diffId} ${target.compression} ${target.level ?? 'default'}`;

export function createLayerConverter(options: LayerConverterOptions): LayerConverter {
  const { store } = options;
  const file = path.join(options.root, 'cache', 'compression-variants.json');
  let index: Promise<Map<string, VariantEntry>> | undefined;

  const readIndex = async (): Promise<Map<string, VariantEntry>> => {
    try {
      const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, VariantEntry>;
      return new Map(Object.entries(raw).filter(([, v]) => isDigest(v?.blob) && Number.isInteger(v.size) && typeof v.mediaType === 'string'));
    } catch {
      // Missing or unreadable: an empty index only costs a recompression.
      return new Map();
    }
  };

  /** Merges new entries into the on-disk index under a lock: another build may have added its own. */
  const saveEntries = async (added: Map<string, VariantEntry>): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    const release = await options.lock('compression-variants');
    try {
      const merged = await readIndex();
      for (const [k, v] of added) merged.set(k, v);
      const sorted = Object.fromEntries([...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      await writeFileAtomic(file, `${JSON.stringify(sorted, null, 1)}\n`);
    } finally {
      await release();
    }
  };

  /** Decompresses one stored blob and re-encodes it; the diff_id must come out unchanged. */
  const reencode = async (ctx: BuildContext, layer: StoredLayerRef, target: CompressionTarget): Promise<VariantEntry> => {
    ctx.signal.throwIfAborted();
    const mediaType = LAYER_MEDIA_TYPES[target.compression];
    // An uncompressed blob is the tar itself: its digest is the diff_id, and it may be stored already.
    if (target.compression === 'uncompressed') {
      const have = await store.stat(layer.diffId);
      if (have) return { blob: layer.diffId, size: have.size, mediaType };
    }
    const tar = Readable.from(decompressLayer(store.openRead(layer.blob), 'auto'));
    const encoded = compressLayer(tar, target.compression, target.level);
    const info = await store.writeStream(encoded.stream);
    const done = await encoded.done;
    if (done.diffId !== layer.diffId) {
      // The written blob is not recorded anywhere, so garbage collection removes it.
      throw new TsbuildError('ERR_TSBUILD_STORE_CORRUPT', `layer ${layer.blob} decompresses to ${done.diffId}, but its diff_id is ${layer.diffId}`);
    }
    return { blob: info.digest, size: info.size, mediaType };
  };

  return {
    async convert(ctx, layers, target) {
      if (!needsConversion(layers, target)) return layers;
      const known = await (index ??= readIndex());
      const added = new Map<string, VariantEntry>();
      const inFlight = new Map<string, Promise<VariantEntry>>();
      // Each conversion is a decompressor and a compressor; more than the cores only thrashes.
      const limit = pLimit(2);
      let forced = 0;
      const variantOf = (l: StoredLayerRef, target: CompressionTarget): Promise<VariantEntry> => {
        const key = variantKey(l.diffId, target);
        let p = inFlight.get(key);
        if (!p) {
          p = (async () => {
            const hit = known.get(key);
            // The blob may have been pruned since the index learnt it: then convert again.
            if (hit && (await store.stat(hit.blob))?.size === hit.size) return hit;
            const made = await limit(() => reencode(ctx, l, target));
            known.set(key, made);
            added.set(key, made);
            if (target.force) forced++;
            return made;
          })();
          inFlight.set(key, p);
        }
        return p;
      };
      const out = await Promise.all(
        layers.map(async (l) => {
          const wanted = wantedFor(l, target);
          if (!wanted) return l.lazy ? plain(l) : l;
          const v = await variantOf(l, wanted);
          return { diffId: l.diffId, blob: v.blob, size: v.size, mediaType: v.mediaType };
        }),
      );
      if (added.size > 0) {
        await saveEntries(added);
        if (forced > 0) ctx.progress.emit({ type: 'info', time: Date.now(), message: `force-compression: ${forced} layer(s) re-encoded as ${target.compression}` });
        if (added.size > forced) ctx.progress.emit({ type: 'info', time: Date.now(), message: `${added.size - forced} new layer(s) compressed for export` });
      }
      return out;
    },
  };
}
