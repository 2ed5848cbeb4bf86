export * from './types.js';
export { inputsOf, opDigest, createVertex } from './vertex.js';
export { isLayerOp, targetLayerSteps } from './walk.js';
