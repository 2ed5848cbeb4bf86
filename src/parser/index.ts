export { parseDockerfile } from './parse.js';
export { dumpAst, dumpNode } from './dump.js';
export type * from './ast.js';
export type { EscapeChar } from './lexer.js';
export { decodeBytes, encodeText, goQuote } from './text.js';
