/**
 * Looking a path up in a stack of overlay-format layer dirs without mounting them: each component
 * comes from the topmost layer that has it, and a whiteout (0/0 character device) hides it.
 * Opaque directories are marked by an xattr Node cannot read, so a name that only a layer below
 * an opaque directory has is reported present; callers use the answer only to decide what to
 * clean up or to check before a mount, where that costs at most an empty stub file.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';

export type LayerViewType = 'dir' | 'file' | 'symlink' | 'other';

/**
 * The type of `rel` ('' is the root) in the merged view of `lowerTopFirst`; undefined when absent.
 * A symlink on the way is reported as 'symlink': where it leads needs the merged view.
 */
export function typeInLayers(lowerTopFirst: string[], rel: string): LayerViewType | undefined {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) return 'dir';
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    let type: LayerViewType | undefined;
    for (const dir of lowerTopFirst) {
      let st;
      try {
        st = lstatSync(path.join(dir, prefix), { throwIfNoEntry: false });
      } catch {
        st = undefined; // ENOTDIR: a file in this layer stands where a parent would be
      }
      if (!st) continue;
      if (st.isCharacterDevice() && st.rdev === 0) return undefined;
      type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
      break;
    }
    if (type === undefined) return undefined;
    if (i === parts.length || type === 'symlink') return type;
    if (type !== 'dir') return undefined;
  }
  return undefined;
}
