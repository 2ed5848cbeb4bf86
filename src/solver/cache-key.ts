/**
 * Cache keys. An op's digest says what it *is*; its cache key says what its result depends on:
 * the op definition with every input replaced by that input's cache key, plus the content
 * checksums of exactly the context files it reads. Keys are computed top-down without running
 * anything, so a fully cached build executes nothing at all.
 */
import type { BuildGraph, Op, Vertex } from '../graph/index.js';
import { digestOf, type Digest } from '../util/digest.js';

/** Supplies content checksums for ops that read the build context. */
export interface ContentChecksums {
  /** Checksum of the files `patterns` select in the local source `source`. */
  localChecksum(source: Vertex, patterns: string[]): Promise<Digest>;
}

/** Fields that never change an op's result and therefore stay out of its key. */
function normalizeForKey(op: Op): unknown {
  switch (op.kind) {
    case 'source.local':
      // Which files are read is captured per consumer (copy actions), not by the source itself.
      return { kind: op.kind, name: op.name };
    case 'exec':
      return { ...op, mounts: op.mounts.map((m) => (m.type === 'secret' || m.type === 'ssh' ? { ...m } : m)) };
    default:
      return op;
  }
}

export function createCacheKeyCalculator(graph: BuildGraph, checksums: ContentChecksums) {
  const memo = new Map<Digest, Promise<Digest>>();

  const compute = async (vertex: Vertex): Promise<Digest> => {
    const inputKeys: Record<string, Digest> = {};
    for (const input of vertex.inputs) inputKeys[input] = await keyOf(input);
    const op = vertex.op;
    const extra: unknown[] = [];
    if (op.kind === 'file') {
      for (const action of op.actions) {
        if (action.action !== 'copy') continue;
        const from = graph.vertices[action.from];
        if (from?.op.kind === 'source.local') extra.push(await checksums.localChecksum(from, action.src));
      }
    }
    if (op.kind === 'exec') {
      for (const m of op.mounts) {
        if (m.type !== 'bind') continue;
        const from = graph.vertices[m.input];
        if (from?.op.kind === 'source.local') extra.push(await checksums.localChecksum(from, [m.source]));
      }
    }
    // Inputs are referenced by op digest inside the op; map each to its key so that the key
    // changes whenever anything upstream would produce different content.
    const opJson = JSON.stringify(normalizeForKey(op)).replace(/sha256:[a-f0-9]{64}/g, (d) => inputKeys[d] ?? d);
    return digestOf({ v: 1, op: JSON.parse(opJson), extra });
  };

  const keyOf = (digest: Digest): Promise<Digest> => {
    let p = memo.get(digest);
    if (!p) {
      const vertex = graph.vertices[digest];
      if (!vertex) throw new Error(`vertex ${digest} is not in the graph`);
      p = compute(vertex);
      memo.set(digest, p);
    }
    return p;
  };

  return { keyOf };
}

export type CacheKeyCalculator = ReturnType<typeof createCacheKeyCalculator>;
