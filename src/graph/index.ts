export * from './types.js';
export { inputsOf, opDigest, createVertex } from './vertex.js';
