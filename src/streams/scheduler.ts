// Runs sessions on the engine with bounded concurrency and a bounded FIFO queue, turning engine
// events into session events.
import type { Subscription } from 'rxjs';
import type { AnalysisJob, AnalysisRequest, AnalysisResult, Engine, EngineEvent } from '../engine/types.js';
import { EngineError } from '../engine/types.js';
import type { Session } from './session.js';
import { StorageError } from './storage.js';
import type { SessionStore } from './store.js';
import type { UploadStore } from './uploads.js';

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('The analysis queue is full; try again later.');
  }
}

export interface SchedulerOptions {
  concurrency: number;
  queueLimit: number;
  /** Minimum time between stored progress events of one session, unless something else changed. */
  progressIntervalMs?: number;
}

interface Running {
  session: Session;
  job: AnalysisJob;
  sub: Subscription;
  startedAt: number;
}

export class Scheduler {
  private readonly queue: Session[] = [];
  private readonly running = new Map<string, Running>();
  private readonly progressIntervalMs: number;
  private accepting = true;
  /** Moving mean of the run time of finished jobs, for Retry-After; null until one finished. */
  private meanRunMs: number | null = null;
  readonly stats = { started: 0, completed: 0, failed: 0, cancelled: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly store: SessionStore,
    private readonly uploads: UploadStore,
    private readonly opts: SchedulerOptions,
  ) {
    this.progressIntervalMs = opts.progressIntervalMs ?? 200;
  }

  get queued(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.running.size;
  }

  get limits() {
    return { concurrency: this.opts.concurrency, queueLimit: this.opts.queueLimit };
  }

  /** Whether one more session could be queued now. */
  hasRoom(): boolean {
    const freeSlots = Math.max(0, this.opts.concurrency - this.running.size);
    return this.accepting && this.queue.length < this.opts.queueLimit + freeSlots;
  }

  /**
   * When a slot is likely to free up: the queue ahead in waves of `concurrency`, each as long as
   * the measured mean run; before any job finished, as long as the oldest running job has run.
   */
  retryAfterSeconds(now = Date.now()): number {
    const waves = Math.ceil((this.queue.length + 1) / Math.max(1, this.opts.concurrency));
    let runMs = this.meanRunMs;
    if (runMs === null) runMs = Math.max(1000, ...[...this.running.values()].map((r) => now - r.startedAt));
    return Math.max(1, Math.min(600, Math.round((waves * runMs) / 1000)));
  }

  /** Queues a pending session; throws QueueFullError when there is no room. */
  enqueue(session: Session): void {
    if (!this.hasRoom()) throw new QueueFullError(this.retryAfterSeconds());
    this.queue.push(session);
    // Start on the next turn, so the caller answers while the session is still `pending`.
    setImmediate(() => this.pump());
  }

  /** Queues without the limit (sessions recovered after a restart were already accepted). */
  enqueueRecovered(session: Session): void {
    this.queue.push(session);
    setImmediate(() => this.pump());
  }

  /** Stops a queued or running session; the session is marked cancelled. */
  cancel(session: Session): void {
    this.stop(session);
    if (session.transition('cancelled')) this.stats.cancelled++;
  }

  /** Stops work on a session without changing its state (cleanup, expiry, shutdown). */
  stop(session: Session): void {
    const i = this.queue.indexOf(session);
    if (i >= 0) this.queue.splice(i, 1);
    const run = this.running.get(session.id);
    if (run) {
      this.running.delete(session.id);
      run.sub.unsubscribe();
      run.job.cancel();
      this.pump();
    }
  }

  /** Refuses new work and stops running jobs (shutdown). Returns the sessions that were running. */
  shutdown(): Session[] {
    this.accepting = false;
    const stopped = [...this.running.values()].map((r) => r.session);
    for (const s of stopped) this.stop(s);
    this.queue.length = 0;
    return stopped;
  }

  private pump(): void {
    while (this.accepting && this.running.size < this.opts.concurrency && this.queue.length > 0) {
      const session = this.queue.shift()!;
      if (session.terminal) continue;
      this.start(session);
    }
  }

  private start(session: Session): void {
    const request = {
      type: session.meta.analysisType,
      file: this.uploads.videoPath(session.id),
      params: session.meta.params, // validated when the session was created
    } as unknown as AnalysisRequest;
    session.transition('processing');
    let job: AnalysisJob;
    try {
      job = this.engine.analyze(request);
    } catch (err) {
      this.fail(session, err);
      return;
    }
    this.stats.started++;
    const startedAt = Date.now();
    const sub = job.events.subscribe({ next: progressWriter(session, this.progressIntervalMs), error: () => {} });
    this.running.set(session.id, { session, job, sub, startedAt });
    job.result.then(
      (result) => {
        if (!this.finish(session, startedAt)) return;
        try {
          this.store.writeResult(session.id, result);
        } catch (err) {
          return this.fail(session, err);
        }
        if (session.transition('completed', completionSummary(result))) this.stats.completed++;
      },
      (err) => {
        if (!this.finish(session, startedAt)) return;
        // A video that vanished from under the engine is a storage failure, not a bad video.
        if (err instanceof EngineError && err.code !== 'cancelled' && !this.uploads.hasVideo(session.id)) {
          err = new StorageError('failed', 'Could not read the uploaded video: it is no longer in the data directory');
        }
        this.fail(session, err);
      },
    );
  }

  /** Frees the slot; false if the session was stopped meanwhile (its outcome no longer counts). */
  private finish(session: Session, startedAt: number): boolean {
    const run = this.running.get(session.id);
    if (!run || run.startedAt !== startedAt) return false;
    this.running.delete(session.id);
    run.sub.unsubscribe();
    const ran = Date.now() - startedAt;
    this.meanRunMs = this.meanRunMs === null ? ran : 0.8 * this.meanRunMs + 0.2 * ran;
    queueMicrotask(() => this.pump());
    return true;
  }

  /** Stops a session whose events or result cannot be stored, failing it with `storage_error`. */
  failStorage(session: Session, err: StorageError): void {
    this.stop(session);
    this.fail(session, err);
  }

  private fail(session: Session, err: unknown): void {
    const error =
      err instanceof EngineError
        ? { code: err.code, message: err.message }
        : err instanceof StorageError
          ? { code: 'storage_error', message: err.message }
          : { code: 'internal', message: 'The analysis failed because of an internal error' };
    if (error.code === 'internal') console.error(`session ${session.id}: analysis failed`, err);
    if (error.code === 'cancelled') {
      if (session.transition('cancelled')) this.stats.cancelled++;
    } else if (session.transition('failed', { error })) this.stats.failed++;
  }
}

/**
 * Appends engine events to the session log. Segment events always go through; progress events
 * are thinned to one per interval unless the step or the segment count changed, so a chatty
 * engine cannot flood the log.
 */
function progressWriter(session: Session, intervalMs: number) {
  let lastAt = 0;
  let lastKey = '';
  let lastProgress = -1;
  return (ev: EngineEvent) => {
    if (ev.type === 'segment') {
      session.append('segment', ev.segment as unknown as Record<string, unknown>);
      return;
    }
    const progress = Math.max(lastProgress, Math.min(0.999, round3(ev.progress)));
    const key = `${ev.currentStep}|${ev.segments.completed}|${ev.segments.total}`;
    const now = Date.now();
    if (key === lastKey && (now - lastAt < intervalMs || progress === lastProgress)) return;
    lastAt = now;
    lastKey = key;
    lastProgress = progress;
    session.append('progress', { progress, currentStep: ev.currentStep, segments: { ...ev.segments } });
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function completionSummary(result: AnalysisResult): Record<string, unknown> {
  if (result.analysis_type === 'highlights') {
    return {
      highlights_found: result.highlights_found,
      total_segments_analyzed: result.total_segments_analyzed,
      processing_time_seconds: result.processing_time_seconds,
    };
  }
  return {
    total_exercises_identified: result.summary.total_exercises_identified,
    total_reps: result.summary.total_reps,
    total_segments_analyzed: result.total_segments_analyzed,
    processing_time_seconds: result.processing_time_seconds,
  };
}
