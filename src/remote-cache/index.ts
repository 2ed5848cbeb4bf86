export { parseCacheExport, parseCacheImport, describeLocation, type CacheExportSpec, type CacheImportSpec, type CacheLocationSpec } from './options.js';
export { importCaches, type ImportedCache, type CacheImportStats } from './import.js';
export { exportCache, type CacheExportStats, type CacheExportInput } from './export.js';
export {
  CACHE_ARTIFACT_TYPE,
  CACHE_CONFIG_MEDIA_TYPE,
  CACHE_MOUNT_MEDIA_TYPE,
  buildCacheConfig,
  buildCacheManifest,
  parseCacheConfig,
  parseCacheManifest,
  type CacheConfig,
  type CacheManifest,
  type CacheRecordLike,
} from './format.js';
export { cacheExportVertices, collectCacheRecords, cacheMountIds, withImportedRecords } from './select.js';
export { pruneLayout } from './layout-gc.js';
