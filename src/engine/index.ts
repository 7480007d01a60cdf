// Public entry of the engine package: the signal engine, its helpers and the contract types.
import { ModelEngine, type ModelEngineOptions } from './model/engine.js';
import { SignalEngine, type SignalEngineOptions } from './signal/engine.js';

export * from './types.js';
export { SignalEngine, SignalJob, type SignalEngineOptions } from './signal/engine.js';
export { ParamsError, parseParams, parseHighlightsParams, parseWorkoutParams, HIGHLIGHTS_DEFAULTS, WORKOUT_DEFAULTS } from './params.js';
export { formatClock, formatRange } from './format.js';
export { cutSpans, extractFrames, lockExclusive, probe, type CutResult, type ExtractedFrame, type NativeStoryboard } from './native.js';
export { defaultSegmentDuration } from './signal/segmentation.js';

export function createSignalEngine(options?: SignalEngineOptions): SignalEngine {
  return new SignalEngine(options);
}

export { ModelEngine, type ModelEngineOptions } from './model/engine.js';

/** The signal engine, or with a model folder the SmolVLM2 engine on top of it. */
export function createEngine(options: { modelDir?: string | null } & ModelEngineOptions = {}): SignalEngine | ModelEngine {
  const signal = new SignalEngine();
  return options.modelDir ? new ModelEngine(signal, options.modelDir, options) : signal;
}
