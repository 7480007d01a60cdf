// Typed face of the native addon (build/Release/engine.node). Errors from the addon carry a
// `code`; they are turned into EngineError here so callers only ever see the contract's errors.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError, type EngineErrorCode, type VideoInfo } from './types.js';

export interface NativeJobOptions {
  /** Seconds per segment. */
  segmentDuration: number;
  /** Analysis samples per second of video (default 4). */
  sampleFps?: number;
  /** Longest side of the gray analysis frames (default 160). */
  analysisSize?: number;
  /** Cores for the decoder (default 2; FFmpeg frame threads, three per core when non-reference frames are skipped). */
  threads?: number;
  /** Decode the audio track in the baseline pass (default true). */
  measureAudio?: boolean;
  /** Include per-sample motion series in segment events (default false). */
  series?: boolean;
  /** Skip the deblocking filter while decoding (default true). */
  skipLoopFilter?: boolean;
  /** Where each segment's thumbnail JPEG goes: `{n}` is replaced by the segment index. */
  thumbnailFile?: string;
  /** Where each storyboard sprite JPEG goes: `{n}` is replaced by the sprite number. */
  spriteFile?: string;
}

export interface NativeInfoEvent {
  type: 'info';
  duration: number;
  width: number;
  height: number;
  fps: number;
  rotation: number;
  hasAudio: boolean;
  videoCodec: string;
  audioCodec?: string;
}

export interface NativeProgressEvent {
  type: 'progress';
  phase: 'baseline' | 'analyze';
  fraction: number;
}

export interface NativeBaselineSegment {
  start: number;
  end: number;
  /** kB per second of predicted (non-key) video packets: a cheap whole-video activity measure. */
  activity: number;
  packets: number;
  /** Present when the audio track was measured (dBFS). */
  audioRms?: number;
  audioPeak?: number;
  audioLoudest?: number;
  audioLoudestAt?: number;
  audioPeaks?: number;
}

export interface NativeBaselineEvent {
  type: 'baseline';
  duration: number;
  segmentDuration: number;
  segments: NativeBaselineSegment[];
  audio: { measured: boolean; failed: boolean; medianWindowDb: number; maxWindowDb: number; peakThresholdDb: number };
  /** Presentation-time statistics of the video packets (seconds). */
  timing: { frames: number; medianInterval: number; irregularShare: number; longestInterval: number };
  /** The container's duration (0 when it declares none). */
  declaredDuration: number;
  /** Reading stopped at an error rather than a clean end of file (a cut-off file). */
  endedWithError: boolean;
}

/** Camera (global) motion of a segment, per sampling interval, in pixels of the analysis frame. */
export interface NativeCameraMotion {
  /** Samples where a camera model could be fitted. */
  samples: number;
  /** Mean translation of the picture content (x right, y down). */
  dx: number;
  dy: number;
  /** Mean |translation|. */
  speed: number;
  /** Mean scale change (positive: zooming in). */
  zoom: number;
  /** Mean change of the translation between consecutive samples (shake). */
  jitter: number;
  /** Mean |log| of the brightness ratio between samples (fades). */
  fade: number;
}

export interface NativeSeries {
  t: number[];
  /** Mean absolute luma difference to the previous sample (-1 at a cut). */
  energy: number[];
  /** Centroid of the changed pixels, 0..1 (-1 when nothing moved or at a cut). */
  cx: number[];
  cy: number[];
  /** Share of pixels that changed (-1 at a cut). */
  area: number[];
}

export interface NativeSegmentEvent {
  type: 'segment';
  index: number;
  start: number;
  end: number;
  samples: number;
  motion: number;
  motionMax: number;
  cuts: number;
  cutTimes: number[];
  brightness: number;
  camera: NativeCameraMotion;
  /** Mean absolute luma difference left after compensating camera motion and brightness (0..255). */
  subject: number;
  subjectMax: number;
  series?: NativeSeries;
  /** With thumbnailFile: whether this segment's thumbnail was written. */
  thumbnail?: boolean;
}

/** Storyboard tiles (with spriteFile), in time order; null when a sprite could not be written. */
export interface NativeStoryboard {
  interval: number;
  tileWidth: number;
  tileHeight: number;
  sprites: Array<{ width: number; height: number }>;
  tiles: Array<{ start: number; end: number; sprite: number; x: number; y: number }>;
}

export interface NativeDoneEvent {
  type: 'done';
  framesDecoded: number;
  samples: number;
  decodeErrors: number;
  analyzedDuration: number;
  /** End of the last decoded frame (seconds). */
  decodedUntil: number;
  storyboard?: NativeStoryboard | null;
}

export interface NativeErrorEvent {
  type: 'error';
  code: EngineErrorCode;
  message: string;
}

/** Always the last event: the native thread has finished. */
export interface NativeClosedEvent {
  type: 'closed';
}

export type NativeEvent =
  | NativeInfoEvent
  | NativeProgressEvent
  | NativeBaselineEvent
  | NativeSegmentEvent
  | NativeDoneEvent
  | NativeErrorEvent
  | NativeClosedEvent;

export interface ExtractedFrame {
  /** Presentation time of the returned frame (seconds). */
  timestamp: number;
  width: number;
  height: number;
  /** Packed RGB24, width * height * 3 bytes. */
  data: Buffer;
}

export interface CutResult {
  /** Seconds of video written. */
  duration: number;
  /** Whether the video was stream-copied (a single span starting on a keyframe) or re-encoded. */
  copied: boolean;
  frames: number;
}

export interface NativeJobHandle {
  cancel(): void;
}

/** Promises from the addon carry cancel(): stop the work; the promise rejects with 'cancelled'. */
type CancellablePromise<T> = Promise<T> & { cancel(): void };

interface Binding {
  probe(path: string): CancellablePromise<VideoInfo>;
  startJob(path: string, options: NativeJobOptions, onEvent: (event: NativeEvent) => void): NativeJobHandle;
  extractFrames(path: string, timestamps: number[], maxSide?: number): CancellablePromise<ExtractedFrame[]>;
  cutSpans(input: string, output: string, spans: Array<[number, number]>, allowCopy: boolean): CancellablePromise<CutResult>;
  activeThreads(): number;
  lockExclusive(path: string): { fd?: number; held?: boolean };
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the package root (binding.gyp) above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let binding: Binding | undefined;
let loadError: Error | undefined;

/** Loads the addon once; throws EngineError('internal') when it isn't built. */
export function loadBinding(): Binding {
  if (binding) return binding;
  if (loadError) throw new EngineError('internal', loadError.message);
  try {
    const path = process.env.ENGINE_ADDON_PATH ?? join(packageRoot(), 'build', 'Release', 'engine.node');
    binding = createRequire(import.meta.url)(path) as Binding;
    return binding;
  } catch (err) {
    loadError = new Error(`native engine addon not available (${(err as Error).message}); run "npm run build:native"`);
    throw new EngineError('internal', loadError.message);
  }
}

const CODES: readonly EngineErrorCode[] = ['unsupported_media', 'decode_error', 'cancelled', 'internal'];

export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = CODES.includes(e?.code as EngineErrorCode) ? (e.code as EngineErrorCode) : 'internal';
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return new EngineError(code, message);
}

/** Runs a cancellable native call, wiring an AbortSignal to its cancel(). */
async function withSignal<T>(start: () => CancellablePromise<T>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) throw new EngineError('cancelled', 'cancelled');
  const pending = start();
  const abort = () => pending.cancel();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return await pending;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

export async function probe(path: string, options: { signal?: AbortSignal } = {}): Promise<VideoInfo> {
  try {
    return await withSignal(() => loadBinding().probe(path), options.signal);
  } catch (err) {
    throw toEngineError(err);
  }
}

/** Starts a job on a native thread; onEvent runs on the JS thread, in order, ending with `closed`. */
export function startJob(path: string, options: NativeJobOptions, onEvent: (event: NativeEvent) => void): NativeJobHandle {
  try {
    return loadBinding().startJob(path, options, onEvent);
  } catch (err) {
    throw toEngineError(err);
  }
}

/**
 * Decodes one RGB24 frame per timestamp (request order): the first frame at or after it, the
 * last frame for timestamps past the end; scaled to fit maxSide x maxSide. Aborting the signal
 * stops the decoding (rejects with EngineError 'cancelled').
 */
export async function extractFrames(
  path: string,
  timestamps: number[],
  maxSide = 384,
  options: { signal?: AbortSignal } = {},
): Promise<ExtractedFrame[]> {
  try {
    return await withSignal(() => loadBinding().extractFrames(path, timestamps, maxSide), options.signal);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw toEngineError(err);
  }
}

/**
 * Writes the spans of `input` (seconds, in order) joined into one MP4 at `output`, on a native
 * thread (clips.h: stream copy where possible, otherwise a frame-accurate re-encode).
 * `allowCopy: false` always re-encodes (benchmarks). Rejects with an EngineError.
 */
export async function cutSpans(
  input: string,
  output: string,
  spans: Array<[number, number]>,
  options: { signal?: AbortSignal; allowCopy?: boolean } = {},
): Promise<CutResult> {
  try {
    return await withSignal(() => loadBinding().cutSpans(input, output, spans, options.allowCopy ?? true), options.signal);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw toEngineError(err);
  }
}

/** Native threads currently running (probe, frames, jobs); for tests and health. */
export function activeThreads(): number {
  return loadBinding().activeThreads();
}

/**
 * Takes an exclusive flock on `path` (created if missing): the open descriptor, or null when
 * another process holds it. The kernel releases it when this process ends, however it ends;
 * close the descriptor to release it earlier. Throws an Error whose `code` is the errno name.
 */
export function lockExclusive(path: string): number | null {
  const r = loadBinding().lockExclusive(path);
  return r.fd ?? null;
}
