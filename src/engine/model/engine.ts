// The SmolVLM2 engine (name "smolvlm"): the signal engine measures every segment first, then the
// model, in a worker thread, describes and scores the segments in order of their signal score,
// so the most promising ones produce results first. Workout sets get exercise names.
// If the model folder fails to load, analyses still run on signals alone and /health reports
// `degraded` with the reason.
import path from 'node:path';
import { ReplaySubject } from 'rxjs';
import { round } from '../format.js';
import { extractFrames } from '../native.js';
import { SmolVLMClient } from '../smolvlm/client.js';
import { CancelledError } from '../smolvlm/errors.js';
import type { DescribeRequest } from '../smolvlm/smolvlm.js';
import type { SignalEngine } from '../signal/engine.js';
import { pickHighlights } from '../signal/highlights.js';
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
  type HighlightsResult,
  type VideoInfo,
  type WorkoutResult,
} from '../types.js';
import { HIGHLIGHTS_PROMPT, HIGHLIGHTS_SYSTEM, WORKOUT_PROMPT, WORKOUT_SYSTEM, parseExerciseName, parseHighlightAnswer } from './prompts.js';

export interface ModelEngineOptions {
  /** Tokens generated per answer (default 96). */
  maxTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** Frames shown to the model per segment (default: the processor's fps over the segment, 2–8). */
  maxFramesPerSegment?: number;
}

/** Share of the progress bar for the signal pass; the model gets the rest. */
const SIGNAL_SHARE = 0.25;

export class ModelEngine implements Engine {
  readonly info: EngineInfo;
  private client: SmolVLMClient | null = null;
  private loadError: string | null = null;
  private readonly loading: Promise<void>;

  constructor(
    private readonly signal: SignalEngine,
    readonly modelDir: string,
    private readonly options: ModelEngineOptions = {},
  ) {
    this.info = { name: 'smolvlm', model: path.basename(path.resolve(modelDir)) };
    this.loading = SmolVLMClient.start(modelDir).then(
      (c) => {
        this.client = c;
      },
      (err: Error) => {
        this.loadError = err.message;
      },
    );
  }

  /** Resolves once the model has loaded or failed to. */
  ready(): Promise<void> {
    return this.loading;
  }

  health(): EngineHealth {
    if (this.loadError) return { ready: true, state: 'degraded', detail: `model failed to load, running on signals only: ${this.loadError}` };
    if (!this.client) return { ready: false, state: 'loading', detail: 'loading the model' };
    return this.signal.health();
  }

  probe(file: string): Promise<VideoInfo> {
    return this.signal.probe(file);
  }

  analyze(request: AnalysisRequest): AnalysisJob {
    return new ModelJob(this, request);
  }

  /** For ModelJob: the loaded client, or null when the model is unavailable. */
  async model(): Promise<SmolVLMClient | null> {
    await this.loading;
    return this.client;
  }

  get signalEngine(): SignalEngine {
    return this.signal;
  }

  get generation() {
    return { maxTokens: this.options.maxTokens ?? 96, temperature: this.options.temperature ?? 0, maxFrames: this.options.maxFramesPerSegment ?? 8 };
  }

  async close(): Promise<void> {
    await this.loading;
    await this.client?.close();
    await this.signal.close();
  }
}

class ModelJob implements AnalysisJob {
  readonly events = new ReplaySubject<EngineEvent>();
  readonly result: Promise<AnalysisResult>;
  private readonly abort = new AbortController();
  private signalJob: AnalysisJob | null = null;
  private progress = 0;
  private readonly startedAt = performance.now();

  constructor(
    private readonly engine: ModelEngine,
    private readonly request: AnalysisRequest,
  ) {
    this.result = this.run().then(
      (r) => {
        this.events.complete();
        return r;
      },
      (err) => {
        this.events.complete();
        throw this.abort.signal.aborted ? new EngineError('cancelled', 'Analysis cancelled') : toEngineError(err);
      },
    );
    this.result.catch(() => {});
  }

  cancel(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.signalJob?.cancel();
  }

  private emitProgress(progress: number, currentStep: string, completed: number, total: number): void {
    this.progress = Math.max(this.progress, Math.min(0.99, progress));
    this.events.next({ type: 'progress', progress: this.progress, currentStep, segments: { completed, total } });
  }

  private checkCancelled(): void {
    if (this.abort.signal.aborted) throw new EngineError('cancelled', 'Analysis cancelled');
  }

  private async run(): Promise<AnalysisResult> {
    // 1. Signals for every segment; their segment events are held back until the model's turn.
    const job = this.engine.signalEngine.analyze(this.request);
    this.signalJob = job;
    if (this.abort.signal.aborted) job.cancel();
    let total = 0;
    const sub = job.events.subscribe((ev) => {
      if (ev.type !== 'progress') return;
      total = ev.segments.total;
      this.emitProgress(ev.progress * SIGNAL_SHARE, ev.currentStep, 0, total);
    });
    let base: AnalysisResult;
    try {
      base = await job.result;
    } finally {
      sub.unsubscribe();
    }
    this.checkCancelled();

    const client = await this.engine.model();
    this.checkCancelled();
    if (!client) return this.signalOnly(base);
    return base.analysis_type === 'highlights' ? this.highlights(base, client) : this.workout(base, client);
  }

  /** The model is unavailable: the signal result, with its segment events. */
  private signalOnly(base: AnalysisResult): AnalysisResult {
    const segs = base.analysis_type === 'highlights' ? base.all_analyses : base.segment_analyses;
    for (const segment of segs) this.events.next({ type: 'segment', segment });
    return base;
  }

  private async frames(start: number, end: number, fps: number, frameSize: number): Promise<DescribeRequest['frames']> {
    const span = Math.max(0.1, end - start);
    const n = Math.max(2, Math.min(this.engine.generation.maxFrames, Math.round(span * fps)));
    const times = Array.from({ length: n }, (_, i) => round(start + ((i + 0.5) * span) / n, 3));
    const frames = await extractFrames(this.request.file, times, frameSize, { signal: this.abort.signal });
    return frames.map((f) => ({ data: f.data, width: f.width, height: f.height, timestamp: f.timestamp }));
  }

  private async ask(client: SmolVLMClient, frames: DescribeRequest['frames'], system: string, prompt: string): Promise<string> {
    const gen = this.engine.generation;
    const r = await client.describe(
      { frames, system, prompt, maxTokens: gen.maxTokens, temperature: gen.temperature, stopAtEndOfUtterance: true },
      { signal: this.abort.signal, transfer: true },
    );
    return r.text;
  }

  private async highlights(base: HighlightsResult, client: SmolVLMClient): Promise<HighlightsResult> {
    const { fps, frameSize } = client.info.videoSampling;
    const order = [...base.all_analyses].sort((a, b) => b.significance_score - a.significance_score || a.index - b.index);
    const done = new Map<number, HighlightSegment>();
    const total = order.length;
    this.emitProgress(SIGNAL_SHARE, 'Describing segments', 0, total);
    for (const seg of order) {
      this.checkCancelled();
      let out: HighlightSegment;
      try {
        const frames = await this.frames(seg.start_timestamp, seg.end_timestamp, fps, frameSize);
        const answer = parseHighlightAnswer(await this.ask(client, frames, HIGHLIGHTS_SYSTEM, HIGHLIGHTS_PROMPT));
        out = {
          ...seg,
          description: answer.description ?? seg.description,
          significance_score: answer.score ?? seg.significance_score,
          score_source: answer.score !== null ? 'model' : 'signal',
        };
      } catch (err) {
        if (this.abort.signal.aborted || err instanceof CancelledError) throw err;
        out = { ...seg, score_source: 'signal', analysis_success: false };
      }
      done.set(seg.index, out);
      this.events.next({ type: 'segment', segment: out });
      this.emitProgress(SIGNAL_SHARE + ((1 - SIGNAL_SHARE) * done.size) / total, 'Describing segments', done.size, total);
    }
    const all = base.all_analyses.map((s) => done.get(s.index)!);
    const highlights = pickHighlights(all, base.settings.min_significance, base.settings.max_highlights);
    return {
      ...base,
      engine: this.engine.info,
      processing_time_seconds: round((performance.now() - this.startedAt) / 1000, 2),
      all_analyses: all,
      highlights,
      highlights_found: highlights.length,
    };
  }

  private async workout(base: WorkoutResult, client: SmolVLMClient): Promise<WorkoutResult> {
    const { fps, frameSize } = client.info.videoSampling;
    const params = this.request.type === 'workout' ? this.request.params : { segment_duration: 15 };
    const system = params.system_prompt || WORKOUT_SYSTEM;
    const prompt = params.user_prompt || WORKOUT_PROMPT;
    const steps = base.exercise_steps.map((s) => ({ ...s }));
    const total = steps.length;
    this.emitProgress(SIGNAL_SHARE, 'Naming exercises', 0, total);
    for (let i = 0; i < steps.length; i++) {
      this.checkCancelled();
      const step = steps[i];
      try {
        const frames = await this.frames(step.start_timestamp, step.end_timestamp, fps, frameSize);
        const name = parseExerciseName(await this.ask(client, frames, system, prompt));
        if (name) step.exercise_name = name;
      } catch (err) {
        if (this.abort.signal.aborted || err instanceof CancelledError) throw err;
      }
      this.emitProgress(SIGNAL_SHARE + ((1 - SIGNAL_SHARE) * (i + 1)) / Math.max(1, total), 'Naming exercises', i + 1, total);
    }
    // Segments inside a set take the set's name.
    const segments = base.segment_analyses.map((seg) => {
      const step = steps.find((s, i) => base.exercise_steps[i].exercise_name === seg.exercise_name && seg.start_timestamp < s.end_timestamp && seg.end_timestamp > s.start_timestamp);
      return step ? { ...seg, exercise_name: step.exercise_name } : seg;
    });
    for (const segment of segments) this.events.next({ type: 'segment', segment });
    return {
      ...base,
      engine: this.engine.info,
      processing_time_seconds: round((performance.now() - this.startedAt) / 1000, 2),
      exercise_steps: steps,
      segment_analyses: segments,
      summary: { ...base.summary, total_exercises_identified: new Set(steps.map((s) => s.exercise_name)).size },
    };
  }
}

function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof CancelledError) return new EngineError('cancelled', 'Analysis cancelled');
  return new EngineError('internal', `Model analysis failed: ${(err as Error)?.message ?? String(err)}`);
}
