// SignalEngine: the embedded engine (name "signal"): measured signals, no model.
import { writeFileSync } from 'node:fs';
import { ReplaySubject } from 'rxjs';
import { formatClock, round } from '../format.js';
import * as native from '../native.js';
import type { NativeBaselineEvent, NativeDoneEvent, NativeEvent, NativeJobHandle, NativeSegmentEvent, NativeStoryboard } from '../native.js';
import {
  EngineError,
  type AnalysisJob,
  type AnalysisRequest,
  type AnalysisResult,
  type Engine,
  type EngineEvent,
  type EngineHealth,
  type EngineInfo,
  type HighlightSegment,
  type HighlightsParams,
  type VideoInfo,
  type VideoSummary,
  type WorkoutParams,
  type WorkoutSegment,
  type StoryboardIndex,
} from '../types.js';
import { buildHighlightsBaseline, pickHighlights, scoreSegment, ranking, type HighlightsBaseline } from './highlights.js';
import { analysisFrame } from './motion.js';
import { inputWarnings, shotsFromCuts } from './warnings.js';
import { defaultSegmentDuration } from './segmentation.js';
import { WorkoutTracker } from './workout.js';

export interface SignalEngineOptions {
  /** Cores for the FFmpeg decoder per job (default 2: the service runs on small machines). */
  decoderThreads?: number;
}

/** Seconds a workout window may wait for the rep counter before it is described anyway. */
const MAX_WINDOW_LAG = 30;

/** Progress ranges of each step (fractions of the whole job). */
const STEPS = {
  probe: { at: 0, step: 'Probing video' },
  baseline: { from: 0.02, to: 0.1, step: 'Measuring baseline' },
  analyze: { from: 0.1, to: 0.97, step: 'Analyzing segments' },
  finalize: { at: 0.98, step: 'Finalizing' },
} as const;

function summary(info: VideoInfo): VideoSummary {
  return {
    duration: round(info.duration, 2),
    width: info.width,
    height: info.height,
    fps: round(info.fps, 2),
    has_audio: info.has_audio,
  };
}

/** The storyboard's index next to its sprites; a failed write only means no storyboard. */
function writeStoryboard(file: string, board: NativeStoryboard): void {
  const index: StoryboardIndex = { tileWidth: board.tileWidth, tileHeight: board.tileHeight, sprites: board.sprites, tiles: board.tiles };
  try {
    writeFileSync(file, JSON.stringify(index));
  } catch {
    // the session's folder is gone (cleaned up) or full: the result simply has no storyboard
  }
}

/** A running analysis. Besides the contract, `closed` resolves when the native thread has exited. */
export class SignalJob implements AnalysisJob {
  readonly events: ReplaySubject<EngineEvent> = new ReplaySubject<EngineEvent>();
  readonly result: Promise<AnalysisResult>;
  readonly closed: Promise<void>;
  private resolveResult!: (r: AnalysisResult) => void;
  private rejectResult!: (e: EngineError) => void;
  private resolveClosed!: () => void;
  private settled = false;
  private handle: NativeJobHandle | null = null;
  private progress = 0;
  private completed = 0;
  private total = 0;

  constructor(
    private readonly engineInfo: EngineInfo,
    private readonly request: AnalysisRequest,
    private readonly options: SignalEngineOptions,
    onClosed: () => void,
  ) {
    this.result = new Promise<AnalysisResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.result.catch(() => {}); // the caller may only look at events; never an unhandled rejection
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
    this.closed.then(onClosed);
    queueMicrotask(() => void this.run());
  }

  cancel(): void {
    if (this.settled) return;
    this.handle?.cancel();
    if (!this.handle) this.resolveClosed(); // nothing native running yet
    this.fail(new EngineError('cancelled', 'analysis cancelled'));
  }

  private emitProgress(progress: number, step: string): void {
    if (this.settled) return;
    this.progress = Math.max(this.progress, Math.min(1, progress));
    this.events.next({
      type: 'progress',
      progress: round(this.progress, 4),
      currentStep: step,
      segments: { completed: this.completed, total: this.total },
    });
  }

  private fail(err: EngineError): void {
    if (this.settled) return;
    this.settled = true;
    this.events.complete();
    this.rejectResult(err);
  }

  private succeed(result: AnalysisResult): void {
    if (this.settled) return;
    this.emitProgress(1, STEPS.finalize.step);
    this.settled = true;
    this.events.complete();
    this.resolveResult(result);
  }

  private async run(): Promise<void> {
    const started = performance.now();
    if (this.settled) return;
    this.emitProgress(STEPS.probe.at, STEPS.probe.step);
    let info: VideoInfo;
    try {
      info = await native.probe(this.request.file);
    } catch (err) {
      this.resolveClosed();
      this.fail(native.toEngineError(err));
      return;
    }
    if (this.settled) return;
    this.emitProgress(STEPS.baseline.from, STEPS.baseline.step);

    const req = this.request;
    const isHighlights = req.type === 'highlights';
    const segmentDuration = isHighlights
      ? ((req.params as HighlightsParams).segment_duration ?? defaultSegmentDuration(info.duration))
      : (req.params as WorkoutParams).segment_duration;

    let baseline: HighlightsBaseline | null = null;
    let usedSegmentDuration = segmentDuration;
    let analysedDuration = info.duration;
    const highlights: HighlightSegment[] = [];
    const workoutSegments: WorkoutSegment[] = [];
    let tracker: WorkoutTracker | null = null;
    let failure: EngineError | null = null;
    const sampleFps = isHighlights ? 4 : 10;
    const frame = analysisFrame(info.width, info.height, sampleFps);
    let nativeBaseline: NativeBaselineEvent | null = null;
    const cutTimes: number[] = [];

    const finish = (done: NativeDoneEvent) => {
      const analysed = Math.min(analysedDuration, done.decodedUntil > 0 ? done.decodedUntil : analysedDuration);
      const video = { ...summary(info), analysed_duration: round(analysed, 2) };
      const warnings = inputWarnings(info, nativeBaseline!, done, analysed);
      const shots = shotsFromCuts(cutTimes, analysed);
      const seconds = round((performance.now() - started) / 1000, 2);
      if (req.type === 'highlights') {
        const p = req.params;
        const picked = pickHighlights(highlights, p.min_significance, p.max_highlights);
        this.succeed({
          analysis_type: 'highlights',
          engine: this.engineInfo,
          video,
          settings: { min_significance: p.min_significance, max_highlights: p.max_highlights, segment_duration: round(usedSegmentDuration, 3) },
          processing_time_seconds: seconds,
          total_segments_analyzed: highlights.length,
          highlights_found: picked.length,
          highlights: picked,
          all_analyses: highlights,
          ranking: ranking(highlights),
          shots,
          warnings,
        });
      } else {
        tracker!.end();
        flushWindows(true);
        const { steps, totalReps } = tracker!.finish();
        this.succeed({
          analysis_type: 'workout_with_timestamps',
          engine: this.engineInfo,
          video,
          processing_time_seconds: seconds,
          total_duration_seconds: round(analysedDuration, 2),
          total_segments_analyzed: workoutSegments.length,
          segment_analyses: workoutSegments,
          exercise_steps: steps,
          summary: { total_exercises_identified: steps.length, total_reps: totalReps, video_duration_formatted: formatClock(info.duration) },
          shots,
          warnings,
        });
      }
    };

    const onBaseline = (ev: NativeBaselineEvent) => {
      nativeBaseline = ev;
      usedSegmentDuration = ev.segmentDuration;
      analysedDuration = ev.duration;
      if (!(info.duration > 0)) info = { ...info, duration: ev.duration };
      this.total = ev.segments.length;
      if (isHighlights) baseline = buildHighlightsBaseline(ev);
      else tracker = new WorkoutTracker(ev.duration);
      this.emitProgress(STEPS.baseline.to, STEPS.analyze.step);
    };

    // Workout windows wait until the rep counter has settled past their end (a set is only
    // confirmed after a few reps), so they go out a few seconds late but final and consistent.
    const pendingWindows: { ev: NativeSegmentEvent; active: number }[] = [];
    const flushWindows = (all: boolean) => {
      while (pendingWindows.length > 0) {
        const { ev, active } = pendingWindows[0];
        const latest = pendingWindows[pendingWindows.length - 1].ev.end;
        if (!all && ev.end > tracker!.settledUntil() + 1e-9 && latest - ev.end < MAX_WINDOW_LAG) break;
        pendingWindows.shift();
        const segment = tracker!.describeWindow(ev.index, ev.start, ev.end, ev.samples, active, all && pendingWindows.length === 0);
        segment.cut_timestamps = ev.cutTimes.map((t) => round(t));
        workoutSegments.push(segment);
        emitSegment(segment);
      }
    };

    const onSegment = (ev: NativeSegmentEvent) => {
      cutTimes.push(...ev.cutTimes);
      if (isHighlights) {
        const segment = scoreSegment(baseline!, ev, frame);
        highlights.push(segment);
        emitSegment(segment);
      } else {
        const active = ev.series ? tracker!.addSeries(ev.series) : 0;
        pendingWindows.push({ ev, active });
        flushWindows(false);
      }
    };

    const emitSegment = (segment: HighlightSegment | WorkoutSegment) => {
      this.completed++;
      this.events.next({ type: 'segment', segment });
      const { from, to } = STEPS.analyze;
      this.emitProgress(from + (to - from) * (this.total > 0 ? this.completed / this.total : 0), STEPS.analyze.step);
    };

    const onEvent = (ev: NativeEvent) => {
      if (ev.type === 'closed') {
        this.resolveClosed();
        if (failure) this.fail(failure);
        return;
      }
      if (this.settled || failure) return;
      try {
        switch (ev.type) {
          case 'progress': {
            const range = ev.phase === 'baseline' ? STEPS.baseline : STEPS.analyze;
            // Segment completion drives analyze progress; in-between updates never pass the next segment.
            let p = range.from + (range.to - range.from) * ev.fraction;
            if (ev.phase === 'analyze' && this.total > 0) {
              p = Math.min(p, range.from + ((range.to - range.from) * (this.completed + 1)) / this.total);
            }
            this.emitProgress(p, range.step);
            break;
          }
          case 'baseline':
            onBaseline(ev);
            break;
          case 'segment':
            onSegment(ev);
            break;
          case 'done':
            if (req.media && ev.storyboard) writeStoryboard(req.media.storyboardFile, ev.storyboard);
            this.emitProgress(STEPS.finalize.at, STEPS.finalize.step);
            finish(ev);
            break;
          case 'error':
            failure = new EngineError(ev.code, ev.message);
            break;
        }
      } catch (err) {
        failure = new EngineError('internal', `analysis failed: ${(err as Error).message}`);
        this.handle?.cancel();
      }
    };

    try {
      this.handle = native.startJob(
        req.file,
        {
          segmentDuration: usedSegmentDuration,
          sampleFps,
          measureAudio: isHighlights && info.has_audio,
          series: !isHighlights,
          threads: this.options.decoderThreads ?? 2,
          ...(req.media && { thumbnailFile: req.media.thumbnailFile, spriteFile: req.media.spriteFile }),
        },
        onEvent,
      );
    } catch (err) {
      this.resolveClosed();
      this.fail(native.toEngineError(err));
    }
  }
}

export class SignalEngine implements Engine {
  readonly info: EngineInfo = { name: 'signal', model: null };
  private readonly jobs = new Set<SignalJob>();
  private loadError: string | null = null;
  private closing = false;

  constructor(private readonly options: SignalEngineOptions = {}) {
    try {
      native.loadBinding();
    } catch (err) {
      this.loadError = (err as Error).message;
    }
  }

  health(): EngineHealth {
    if (this.loadError) return { ready: false, state: 'degraded', detail: this.loadError };
    return { ready: !this.closing, state: 'ready' };
  }

  probe(file: string): Promise<VideoInfo> {
    return native.probe(file);
  }

  analyze(request: AnalysisRequest): SignalJob {
    const job = new SignalJob(this.info, request, this.options, () => this.jobs.delete(job));
    this.jobs.add(job);
    if (this.closing) job.cancel();
    return job;
  }

  /** Cancels running jobs and waits for their native threads to exit. */
  async close(): Promise<void> {
    this.closing = true;
    const running = [...this.jobs];
    for (const job of running) job.cancel();
    await Promise.all(running.map((j) => j.closed));
  }
}
