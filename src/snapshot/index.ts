export { unpackLayer, cleanEntryName, resolveInRoot, decompressed as decompressLayer, type UnpackMode, type UnpackResult, type LayerCompression } from './unpack.js';
export { createLayerFromOverlayUpper, measureLayer, type DiffOptions } from './diff.js';
export { createLayerFromTreeDiff } from './tree-diff.js';
export { writeLayerToStore, compressLayer, type CompressingLayer, LAYER_MEDIA_TYPES, type Compression, type StoredLayer } from './layer-store.js';
export { createSnapshotter, cleanupStaleMounts, cleanupStaleBuildDirs, BUILD_TMP_PREFIX, unmount, overlaySupported, overlayMountOptions, mountOverlayFs, mergeLayersTo, type ActiveSnapshot, type Snapshotter } from './snapshotter.js';
export { typeInLayers, type LayerViewType } from './layer-view.js';
