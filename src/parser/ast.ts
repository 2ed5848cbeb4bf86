/**
 * The parser's output: a generic, instruction-agnostic node per logical line, the TypeScript
 * form of BuildKit's parser.Node. It records what the text says, not what it means: typed
 * instructions (parser/instructions/) and the planner give it meaning.
 */

/** Inclusive, 1-based physical line range of a node in its Dockerfile. */
export interface LineRange {
  startLine: number;
  endLine: number;
}

export interface Directive {
  /** Lower-cased directive name: syntax, escape or check. */
  name: string;
  value: string;
  line: number;
}

export interface Heredoc {
  /** Terminator word after quote removal (`<<"EOF"` -> EOF). */
  name: string;
  /** Body text, each line with its trailing newline; leading tabs removed for `<<-`. */
  content: string;
  /** False when the terminator was quoted: the body is then not subject to expansion. */
  expand: boolean;
  /** True for the `<<-` form. */
  chomp: boolean;
  /** File descriptor prefix (`3<<EOF`), when given. */
  fd?: number;
  range: LineRange;
}

/** A key/value from ENV or LABEL, as written (quotes and escapes still in place). */
export interface KeyValue {
  key: string;
  value: string;
  /** '=' for `k=v` form, '' for the legacy `ENV k v` form. */
  separator: '=' | '';
}

export interface InstructionNode {
  /** Keyword lower-cased (`cOpY` -> copy). Unknown keywords are kept; semantics rejects them. */
  keyword: string;
  /** The keyword exactly as written, for messages. */
  rawKeyword: string;
  /** Flags in order, as `--name=value` / `--name` with quotes and escapes removed. */
  flags: string[];
  /**
   * Arguments, following BuildKit's dump rules per instruction: JSON elements, shell-form text
   * as one argument, whitespace-split words, or for ENV/LABEL flattened key/value/separator
   * triples. For ONBUILD this is empty and `onbuild` holds the nested instruction.
   */
  args: string[];
  /** ENV/LABEL pairs (the structured view of the triples in `args`). */
  pairs?: KeyValue[];
  /** True when the arguments came from a JSON array (exec form). */
  json: boolean;
  /** The nested instruction of ONBUILD. */
  onbuild?: InstructionNode;
  /** Heredocs declared on this instruction, in order. */
  heredocs: Heredoc[];
  /** The logical line after continuation joining (keyword and flags included). */
  original: string;
  /** Physical lines covered, including continuation lines and heredoc bodies. */
  range: LineRange;
}

export interface ParseWarning {
  /** Short rule name, e.g. NoEmptyContinuation. */
  rule: string;
  message: string;
  range: LineRange;
}

export interface DockerfileAst {
  /** The file name used in error messages (as given by the caller). */
  file: string;
  directives: Directive[];
  /** The escape character in force: `\` by default or `` ` `` from the escape directive. */
  escapeChar: '\\' | '`';
  instructions: InstructionNode[];
  warnings: ParseWarning[];
}

export interface ParseOptions {
  /** Name shown in errors; defaults to "Dockerfile". */
  file?: string;
}
