/**
 * insight: looking at what builds produce and cost. `layers` analyses an image's layers
 * (sizes, largest files, wasted bytes); `bench` times build scenarios.
 */
export { analyzeImageLayers, buildLayersReport, type FileSize, type LayerReport, type LayersReport } from './layers.js';
export { imageFromArchive, imageFromStore, type AnalyzableImage } from './image-source.js';
export { scanLayer, type LayerScan, type ScanEntry } from './layer-scan.js';
export { computeWaste, type HiddenFile, type WasteResult } from './layer-waste.js';
export { runBench, median, spreadOf, stepsFromEvents, SCENARIOS, type BenchOptions, type BenchReport, type Scenario, type Spread, type StepStats } from './bench.js';
export { inspectBenchProject, copyLocalImage, sourceReads, type BenchProjectInfo } from './bench-project.js';
