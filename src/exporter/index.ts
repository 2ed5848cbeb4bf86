export { assembleImage, type AssembleInput, type AssembledImage } from './assemble.js';
export { resolveExporters, type ResolvedExporter, type ExporterType } from './options.js';
export { exportImage, layoutTar, type ExportInput } from './export.js';
export { createLayerConverter, compressionOfMediaType, needsConversion, type CompressionTarget, type LayerConverter, type StoredLayerRef } from './convert-layers.js';
export { checkStdoutOutputs, padToRecord, type OutputSink } from './output-stream.js';
