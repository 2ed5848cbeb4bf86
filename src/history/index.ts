export * from './record.js';
export { createBuildRecorder, stepIdentity, type BuildRecorder, type BuildOutcome } from './collect.js';
export { explainMisses, explainStep, emitExplanations, matchStep } from './explain.js';
export { readContextSummary, diffContextSummaries, describeFileChanges, pruneContextSummaries } from './context-summary.js';
export { formatBuildRecord, formatHistoryList, formatExplanations } from './render-text.js';
export { renderBuildSvg, renderBuildHtml, criticalPath } from './render-svg.js';
