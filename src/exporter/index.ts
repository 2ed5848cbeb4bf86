export { assembleImage, type AssembleInput, type AssembledImage } from './assemble.js';
export { resolveExporters, type ResolvedExporter, type ExporterType } from './options.js';
export { exportImage, layoutTar, type ExportInput } from './export.js';
