export { applyFileOp, resolveOwner, type FileOpEnv, type FileOpStats } from './apply.js';
export { fetchHttpSource, type HttpSourceSpec } from './http.js';
export { parseChmod, type ModeFn } from './chmod.js';
export { goMatch, hasWildcard } from './match.js';
export { detectCompression, isArchive, extractArchive, type Compression } from './archive.js';
export { resolveInRoot } from './paths.js';
