export { planBuild } from './plan.js';
export { normalizeReference, parseReference, formatReference, type ParsedReference } from '../oci/reference.js';
export { renderDot, renderMermaid } from './render.js';
export type { PlanOptions, ResolvedImage } from './types.js';
