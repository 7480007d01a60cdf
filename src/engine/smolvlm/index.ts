// SmolVLM2 engine: public API.
export { SmolVLM, CancelledError, toRgb } from './smolvlm.js';
export type { DescribeRequest, DescribeResult, DescribeTimings, DescribeHooks, RawImage, VideoFrame } from './smolvlm.js';
export { SmolVLMClient } from './client.js';
export type { DescribeCallOptions } from './client.js';
export type { WorkerInfo } from './worker.js';
export { SmolVLMModel } from './model.js';
export { SmolVLMProcessor, sampleFrameIndices, numberToWords, formatDuration } from './processor.js';
export type { ChatMessage, ChatContent, ProcessedInputs } from './processor.js';
export { loadModelFolder } from './config.js';
export type { SmolVLMConfig, ModelFolder } from './config.js';
export { loadWeights, prepareWeights, canonicalName, dequantize } from './weights.js';
export { runParity, formatReport } from './parity.js';
export { decodePng } from './png.js';
export { resizeLanczos } from './image.js';
export type { RgbImage } from './image.js';
