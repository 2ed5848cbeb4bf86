import { digestOf, type Digest } from '../util/digest.js';
import type { Op, Vertex, VertexMeta } from './types.js';

/** The inputs an op reads, in a stable order: root first, then copy sources and mount inputs. */
export function inputsOf(op: Op): Digest[] {
  const out: Digest[] = [];
  const add = (d: Digest | undefined): void => {
    if (d !== undefined && !out.includes(d)) out.push(d);
  };
  switch (op.kind) {
    case 'exec':
      add(op.root);
      for (const m of op.mounts) if ((m.type === 'bind' || m.type === 'cache') && m.input !== undefined) add(m.input);
      break;
    case 'file':
      add(op.root);
      for (const a of op.actions) if (a.action === 'copy') add(a.from);
      break;
    default:
      break;
  }
  return out;
}

/**
 * An op's identity: the digest of its canonical JSON with a format tag. Source text, comments,
 * whitespace and metadata never reach it, so equal ops from different lines deduplicate.
 */
export function opDigest(op: Op): Digest {
  return digestOf({ v: 1, op });
}

export function createVertex(op: Op, meta: VertexMeta): Vertex {
  return { digest: opDigest(op), op, inputs: inputsOf(op), meta };
}
