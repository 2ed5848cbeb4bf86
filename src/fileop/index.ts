/**
 * fileop: executes the build graph's FileOp (COPY, ADD, WORKDIR's mkdir, heredoc mkfile, rm)
 * on a destination root directory with BuildKit's semantics, plus the ADD <url> download.
 * The solver gives `applyFileOp` the writable root (overlay merged dir or plain dir) and a map
 * from input vertices to host directories; everything here stays inside those directories.
 */
export { applyFileOp, chownNeedsNames, resolveOwner, type FileOpEnv, type FileOpStats } from './apply.js';
export { fetchHttpSource, type HttpSourceSpec } from './http.js';
export { parseChmod, type ModeFn } from './chmod.js';
export { goMatch, hasWildcard } from './match.js';
export { detectCompression, isArchive, extractArchive, type Compression } from './archive.js';
export { cleanRooted, resolveInRoot } from './paths.js';
export { readXattrsOf, writeXattrs, xattrToolsAvailable, type XattrMap } from './xattr.js';
export type { CopyReuseHooks } from './copy-tree.js';
