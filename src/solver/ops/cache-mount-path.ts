/** Where a cache mount's primary instance lives in the state root (private extras add `-N`). */
import path from 'node:path';
import { sha256 } from '../../util/digest.js';

export function cacheMountName(id: string): string {
  return sha256(id).slice(7, 39);
}

export function cacheMountPath(stateRoot: string, id: string): string {
  return path.join(stateRoot, 'cache-mounts', cacheMountName(id));
}
