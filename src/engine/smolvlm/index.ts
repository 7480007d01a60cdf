// SmolVLM2 engine: public API.
//
// On the server thread use the worker client (importing client.js does not load MLX):
//   const vlm = await SmolVLMClient.start('/models/SmolVLM2-256M-Video-Instruct');
//   const r = await vlm.describe({
//     frames: [{ data: rgb, width, height, timestamp: 12.5 }, ...],   // or image: { data, width, height }
//     system: '...', prompt: 'What happens in this segment?', maxTokens: 128,
//   }, { signal, onToken: (textSoFar) => {} });
//   r.text, r.tokens, r.timings (preprocess/vision/prefill/decode ms, decode tokens/s)
//   vlm.info.videoSampling -> { fps, maxFrames, frameSize } to choose which frames to decode.
// In-process (worker or CLI code): SmolVLM.load(dir).describe(request, { shouldStop, onToken }).
// Parity with transformers: npm run parity -- FOLDER.  Benchmark: node dist/bench/smolvlm.js.
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
