export * from './types.js';
export { inputsOf, opDigest, createVertex } from './vertex.js';
export { imageLayerSteps, isLayerOp, targetLayerSteps } from './walk.js';
