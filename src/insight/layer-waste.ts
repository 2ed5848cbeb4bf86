/**
 * Which bytes of which layer never show in the final filesystem. Layers are replayed in order
 * on a path tree: whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`) delete what lower
 * layers put there, and a later entry at the same path (or a file where a directory was, or the
 * reverse) overwrites it. Every hidden version of a file is counted once, in the layer that
 * holds its bytes, no matter how many later layers touch the path again.
 */
import type { ScanEntry } from './layer-scan.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** A file version that is in a layer's tar but not in the final image. */
export interface HiddenFile {
  /** Absolute path in the image. */
  path: string;
  size: number;
  /** Index of the layer holding the bytes. */
  layer: number;
  /** Index of the layer that deleted or overwrote it. */
  by: number;
  reason: 'deleted' | 'overwritten';
}

export interface WasteResult {
  hidden: HiddenFile[];
  /** Per layer: bytes of its files hidden by later layers. */
  wastedBytes: number[];
  /** Per layer: bytes of earlier layers' files it deletes or overwrites. */
  removedBytes: number[];
}

interface Node {
  children?: Map<string, Node>;
  /** The visible non-directory entry at this path, with the layer that wrote it. */
  file?: { layer: number; size: number };
}

export function computeWaste(layers: ScanEntry[][]): WasteResult {
  const root: Node = { children: new Map() };
  const hidden: HiddenFile[] = [];
  const wastedBytes = layers.map(() => 0);
  const removedBytes = layers.map(() => 0);

  const hide = (p: string, f: { layer: number; size: number }, by: number, reason: HiddenFile['reason']) => {
    hidden.push({ path: `/${p}`, size: f.size, layer: f.layer, by, reason });
    wastedBytes[f.layer]! += f.size;
    removedBytes[by]! += f.size;
  };
  const hideSubtree = (node: Node, p: string, by: number, reason: HiddenFile['reason']) => {
    if (node.file) hide(p, node.file, by, reason);
    node.file = undefined;
    for (const [name, child] of node.children ?? []) hideSubtree(child, p === '' ? name : `${p}/${name}`, by, reason);
    node.children = undefined;
  };
  const find = (parts: string[]): Node | undefined => {
    let n: Node | undefined = root;
    for (const part of parts) n = n?.children?.get(part);
    return n;
  };
  /** Walks to a path, creating directories; a file standing where a directory goes is overwritten. */
  const walk = (parts: string[], by: number): Node => {
    let n = root;
    let p = '';
    for (const [k, part] of parts.entries()) {
      p = p === '' ? part : `${p}/${part}`;
      n.children ??= new Map();
      let next = n.children.get(part);
      if (!next) n.children.set(part, (next = {}));
      n = next;
      if (n.file && k < parts.length - 1) {
        hide(p, n.file, by, 'overwritten');
        n.file = undefined;
      }
    }
    return n;
  };

  layers.forEach((entries, i) => {
    // Deletions refer to lower layers only, so they apply before this layer's own entries.
    for (const e of entries) {
      const parts = e.path.split('/');
      const base = parts.pop()!;
      if (base === OPAQUE) {
        const dir = find(parts);
        if (dir) for (const [name, child] of dir.children ?? []) hideSubtree(child, [...parts, name].join('/'), i, 'deleted');
        if (dir) dir.children = new Map();
      } else if (base.startsWith(WHITEOUT)) {
        const parent = find(parts);
        const name = base.slice(WHITEOUT.length);
        const victim = parent?.children?.get(name);
        if (victim) {
          hideSubtree(victim, [...parts, name].join('/'), i, 'deleted');
          parent!.children!.delete(name);
        }
      }
    }
    for (const e of entries) {
      const parts = e.path.split('/');
      if (parts[parts.length - 1]!.startsWith(WHITEOUT)) continue;
      const node = walk(parts, i);
      if (e.kind === 'dir') {
        if (node.file) hide(e.path, node.file, i, 'overwritten');
        node.file = undefined;
        node.children ??= new Map();
        continue;
      }
      if (node.file) hide(e.path, node.file, i, 'overwritten');
      // A non-directory replacing a directory hides everything below it.
      for (const [name, child] of node.children ?? []) hideSubtree(child, `${e.path}/${name}`, i, 'overwritten');
      node.children = undefined;
      node.file = { layer: i, size: e.size };
    }
  });
  return { hidden, wastedBytes, removedBytes };
}
