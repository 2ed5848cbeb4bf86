export { parseDockerignore, createIgnoreMatcher, readDockerignore, cleanPath, type IgnoreMatcher } from './dockerignore.js';
export { createContextHasher, selectEntries, statCacheFileFor, type ContextEntry, type ContextHasher } from './checksum.js';
export { materializeEntries } from './materialize.js';
export { directReadSelection } from './direct-read.js';
export { RACY_MS } from './listing.js';
