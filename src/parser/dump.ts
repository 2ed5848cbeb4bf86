/**
 * The S-expression dump of BuildKit's parser (Node.Dump), the format of the conformance
 * corpus: one `(keyword ["--flags"] "args"...)` line per instruction.
 */
import type { DockerfileAst, InstructionNode } from './ast.js';
import { goQuote } from './text.js';

export function dumpNode(node: InstructionNode): string {
  let s = node.keyword;
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.keyword === 'onbuild') {
    if (node.onbuild) s += ` ${dumpNode(node.onbuild)}`;
  } else {
    for (const a of node.args) s += ` ${goQuote(a)}`;
  }
  return `(${s.trim()})`;
}

export function dumpAst(ast: DockerfileAst): string {
  return ast.instructions.map(dumpNode).join('\n');
}
