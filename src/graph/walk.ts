import type { Digest } from '../util/digest.js';
import type { BuildGraph, Vertex } from './types.js';

/** Ops that produce a layer (and so a build step a user sees): RUN and file ops. */
export function isLayerOp(v: Vertex): boolean {
  return v.op.kind === 'exec' || v.op.kind === 'file';
}

/** The layer steps the target depends on, in every stage, each after its inputs. */
export function targetLayerSteps(graph: BuildGraph): Vertex[] {
  const seen = new Set<Digest>();
  const out: Vertex[] = [];
  const visit = (d: Digest): void => {
    if (seen.has(d)) return;
    seen.add(d);
    const v = graph.vertices[d];
    if (!v) return;
    for (const i of v.inputs) visit(i);
    if (isLayerOp(v)) out.push(v);
  };
  visit(graph.target.root);
  return out;
}

/** The layer steps whose layers make up the target's image: its root chain, top first. */
export function imageLayerSteps(graph: BuildGraph): Vertex[] {
  const out: Vertex[] = [];
  const seen = new Set<Digest>();
  for (let d: Digest | undefined = graph.target.root; d && !seen.has(d); ) {
    seen.add(d);
    const v: Vertex | undefined = graph.vertices[d];
    if (!v) break;
    if (isLayerOp(v)) out.push(v);
    d = v.op.kind === 'exec' || v.op.kind === 'file' ? v.op.root : undefined;
  }
  return out;
}
