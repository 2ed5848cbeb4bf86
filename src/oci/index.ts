export * from './types.js';
export { jsonBytes } from './json.js';
export { readImage, imageLayers, resolveLocalImage, storeImage, importRootfs, hostPlatform, type LocalImage } from './local-image.js';
export { normalizeReference, parseReference, formatReference, type ParsedReference } from './reference.js';
export { loadImageArchive } from './load.js';
