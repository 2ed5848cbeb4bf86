export type { BlobInfo, ContentStore, ExpectedBlob, ImageRecord, ImageStore } from './types.js';
export { createContentStore, fsckContentStore } from './content-store.js';
export { createImageStore } from './image-store.js';
export { openStateRoot, resolveStateRootDir, type StateRoot } from './state-root.js';
export { collectGarbage, diskUsage, fsckStateRoot, parseByteSize, pruneStateRoot, type CacheRecordUsage, type DiskUsage, type FsckReport, type PruneOptions, type PruneReport, type UsageGroup } from './gc.js';
export { acquireLock, type ReleaseLock } from './lock.js';
