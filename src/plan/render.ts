/**
 * Text renderings of a build graph: Graphviz dot and Mermaid flowcharts. Vertices are labelled
 * with their step names; edges point from an input to the op that reads it.
 */
import type { BuildGraph, Vertex } from '../graph/index.js';

function label(v: Vertex): string {
  const op = v.op;
  switch (op.kind) {
    case 'source.image':
      return `FROM ${op.ref}`;
    case 'source.local':
      return op.include.length > 0 ? `context: ${op.include.join(' ')}` : 'context';
    case 'source.http':
      return `ADD ${op.url}`;
    case 'source.scratch':
      return 'scratch';
    default:
      return v.meta.name;
  }
}

function shortId(d: string): string {
  return `v${d.slice(7, 19)}`;
}

function ordered(graph: BuildGraph): Vertex[] {
  return Object.values(graph.vertices).sort((a, b) => (a.meta.location?.startLine ?? 0) - (b.meta.location?.startLine ?? 0) || a.digest.localeCompare(b.digest));
}

export function renderDot(graph: BuildGraph): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const lines = ['digraph build {', '  rankdir=TB;', '  node [shape=box, fontname="monospace", fontsize=10];'];
  for (const v of ordered(graph)) {
    const shape = v.op.kind.startsWith('source.') ? ', shape=ellipse' : '';
    const bold = v.digest === graph.target.root ? ', penwidth=2' : '';
    lines.push(`  ${shortId(v.digest)} [label="${esc(label(v))}"${shape}${bold}];`);
  }
  for (const v of ordered(graph)) for (const i of v.inputs) lines.push(`  ${shortId(i)} -> ${shortId(v.digest)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export function renderMermaid(graph: BuildGraph): string {
  const esc = (s: string) => s.replace(/"/g, '#quot;');
  const lines = ['flowchart TD'];
  for (const v of ordered(graph)) {
    const text = esc(label(v));
    lines.push(v.op.kind.startsWith('source.') ? `  ${shortId(v.digest)}(["${text}"])` : `  ${shortId(v.digest)}["${text}"]`);
  }
  for (const v of ordered(graph)) for (const i of v.inputs) lines.push(`  ${shortId(i)} --> ${shortId(v.digest)}`);
  return `${lines.join('\n')}\n`;
}
