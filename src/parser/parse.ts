/**
 * parseDockerfile: text -> DockerfileAst, reading every file exactly as BuildKit's parser does.
 * Stages: physical lines and directives (lines.ts) -> logical lines -> keyword/flags/rest via
 * the moo + nearley grammar (instruction-line.ts) -> per-instruction arguments (args.ts) ->
 * heredoc bodies (heredoc.ts). Errors are DockerfileError with file, line and column.
 */
import { DockerfileError, type ErrorCode } from '../errors/index.js';
import { ArgsError, parseArgs } from './args.js';
import type { DockerfileAst, Heredoc, InstructionNode, ParseOptions, ParseWarning } from './ast.js';
import { findHeredocs, HEREDOC_INSTRUCTIONS } from './heredoc.js';
import { splitInstructionLine } from './instruction-line.js';
import type { EscapeChar } from './lexer.js';
import { LineError, nextLogicalLine, readDirectives, splitPhysicalLines, takeHeredocBody, type PhysicalLine } from './lines.js';
import { trimSpace } from './text.js';

export function parseDockerfile(input: string | Uint8Array, options: ParseOptions = {}): DockerfileAst {
  const file = options.file ?? 'Dockerfile';
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const fail = (code: ErrorCode, message: string, line: number, column = 1, source?: string): never => {
    throw new DockerfileError(code, message, { file, startLine: line, endLine: line, column }, source === undefined ? {} : { source });
  };

  let lines: PhysicalLine[];
  try {
    lines = splitPhysicalLines(bytes);
  } catch (err) {
    if (err instanceof LineError) fail('ERR_TSBUILD_PARSE_LINE_TOO_LONG', err.message, err.line);
    throw err;
  }
  const sourceOf = (line: number): string => lines[line - 1]?.text ?? '';
  /** Where `needle` first appears in physical lines first..last (column is 1-based, in UTF-16 units). */
  const locate = (first: number, last: number, needle: string | undefined, from = 0): { line: number; column: number } => {
    if (needle) {
      for (let n = first; n <= last; n++) {
        const at = sourceOf(n).indexOf(needle, n === first ? from : 0);
        if (at !== -1) return { line: n, column: at + 1 };
      }
    }
    const text = sourceOf(first);
    return { line: first, column: text.length - text.trimStart().length + 1 };
  };

  const { directives, next: bodyStart } = readDirectives(lines);
  let escape: EscapeChar = '\\';
  const seen = new Set<string>();
  for (const d of directives) {
    const col = locate(d.line, d.line, '#').column;
    if (seen.has(d.name)) fail('ERR_TSBUILD_PARSE_DIRECTIVE', `only one ${d.name} parser directive can be used`, d.line, col, sourceOf(d.line));
    seen.add(d.name);
    if (d.name === 'escape') {
      if (d.value !== '\\' && d.value !== '`') fail('ERR_TSBUILD_PARSE_DIRECTIVE', `invalid escape token '${d.value}' does not match \` or \\`, d.line, col, sourceOf(d.line));
      escape = d.value as EscapeChar;
    }
  }

  const instructions: InstructionNode[] = [];
  const warnings: ParseWarning[] = [];
  let i = bodyStart;
  for (;;) {
    const logical = nextLogicalLine(lines, i, escape);
    if (!logical) break;
    const { line } = logical;
    i = logical.next;
    for (const empty of line.emptyContinuationLines) {
      warnings.push({ rule: 'NoEmptyContinuation', message: 'Empty continuation line', range: { startLine: empty, endLine: empty } });
    }
    let node: InstructionNode;
    // A logical line made only of a continuation (a lone `\` line) is kept as an instruction with an
    // empty keyword, dumped `("")`, exactly as BuildKit does (corpus quirks/lone-backslash-line). We
    // chose to match rather than reject it: the parser stays a faithful mirror, and the planner
    // rejects the empty keyword as an unknown instruction with a proper location.
    try {
      node = buildNode(trimSpace(line.text), escape, line.startLine, line.endLine);
    } catch (err) {
      if (err instanceof ArgsError) {
        // Skip the keyword so a needle such as `[` or a word is found in the arguments.
        const first = sourceOf(line.startLine);
        const keywordEnd = first.length - first.trimStart().length + (/^\S*/.exec(first.trimStart())?.[0].length ?? 0);
        const at = locate(line.startLine, line.endLine, err.needle, keywordEnd);
        fail(err.code, err.message, at.line, at.column, sourceOf(at.line));
      }
      throw err;
    }
    const heredocHost = node.keyword === 'onbuild' ? node.onbuild : node;
    if (heredocHost && HEREDOC_INSTRUCTIONS.has(heredocHost.keyword) && !heredocHost.json) {
      for (const decl of findHeredocs(line.text)) {
        const body = takeHeredocBody(lines, i, decl.name, decl.chomp);
        if (!body) {
          const at = locate(line.startLine, line.endLine, '<<');
          fail('ERR_TSBUILD_PARSE_HEREDOC', `unterminated heredoc ${decl.name}`, at.line, at.column, sourceOf(at.line));
        }
        const heredoc: Heredoc = {
          name: decl.name,
          content: body!.content,
          expand: decl.expand,
          chomp: decl.chomp,
          ...(decl.fd !== undefined ? { fd: decl.fd } : {}),
          range: { startLine: lines[i]?.no ?? body!.endLine, endLine: body!.endLine },
        };
        heredocHost.heredocs.push(heredoc);
        i = body!.next;
        node.range.endLine = body!.endLine;
        if (heredocHost !== node) heredocHost.range.endLine = body!.endLine;
      }
    }
    instructions.push(node);
  }
  if (instructions.length === 0) fail('ERR_TSBUILD_PARSE_NO_INSTRUCTIONS', 'file with no instructions', Math.max(1, lines.length));
  return { file, directives: directives.map((d) => ({ name: d.name, value: d.value, line: d.line })), escapeChar: escape, instructions, warnings };
}

/** Builds a node from one trimmed logical line (recursing for ONBUILD). */
function buildNode(text: string, escape: EscapeChar, startLine: number, endLine: number): InstructionNode {
  const split = splitInstructionLine(text, escape);
  const keyword = split.keyword.toLowerCase();
  const node: InstructionNode = {
    keyword,
    rawKeyword: split.keyword,
    flags: split.flags,
    args: [],
    json: false,
    heredocs: [],
    original: text,
    range: { startLine, endLine },
  };
  if (keyword === 'onbuild') {
    if (split.rest !== '') node.onbuild = buildNode(split.rest, escape, startLine, endLine);
    return node;
  }
  const parsed = parseArgs(keyword, split.rest, escape);
  node.args = parsed.args;
  node.json = parsed.json;
  if (parsed.pairs) node.pairs = parsed.pairs;
  return node;
}
