// Public entry of the engine package: the signal engine, its helpers and the contract types.
import { SignalEngine, type SignalEngineOptions } from './signal/engine.js';

export * from './types.js';
export { SignalEngine, SignalJob, type SignalEngineOptions } from './signal/engine.js';
export { ParamsError, parseParams, parseHighlightsParams, parseWorkoutParams, HIGHLIGHTS_DEFAULTS, WORKOUT_DEFAULTS } from './params.js';
export { formatClock, formatRange } from './format.js';
export { extractFrames, probe, type ExtractedFrame } from './native.js';
export { defaultSegmentDuration } from './signal/segmentation.js';

export function createSignalEngine(options?: SignalEngineOptions): SignalEngine {
  return new SignalEngine(options);
}
