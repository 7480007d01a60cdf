// Runs the jobs of a JobQueue on the engine, up to `concurrency` at once, turning engine events
// into session events. A job cancelled through the queue (from wherever the cancel came in)
// stops here.
import type { Subscription } from 'rxjs';
import type { AnalysisJob, AnalysisRequest, AnalysisResult, Engine, EngineEvent, HighlightSegment, MediaOutput, WorkoutSegment } from '../engine/types.js';
import { EngineError } from '../engine/types.js';
import type { JobLease, JobQueue } from './job-queue.js';
import { silentLogger, type Logger } from './log.js';
import type { Session } from './session.js';
import { StorageError } from './storage.js';
import type { SessionStore, UploadStore } from './stores.js';
import { loggedSegments, runsStarted, takeoverStep } from './takeover.js';

export interface SchedulerOptions {
  concurrency: number;
  /** Minimum time between stored progress events of one session, unless something else changed. */
  progressIntervalMs?: number;
  log?: Logger;
  /** Runs of one job (the first and its take-overs) before it fails with `interrupted`. */
  maxAttempts?: number;
  /** Where a session's results can be read (the `completed` event's `results_url`). */
  resultsUrl?: (sessionId: string) => string;
  /** Pictures made during the analysis, and the media links added to segments and results. */
  media?: {
    prepare(id: string): MediaOutput;
    linkSegment<S extends HighlightSegment | WorkoutSegment>(id: string, seg: S): S;
    linkResult(id: string, result: AnalysisResult): AnalysisResult;
  };
}

interface Running {
  session: Session;
  lease: JobLease;
  job: AnalysisJob;
  sub: Subscription;
  startedAt: number;
}

export class Scheduler {
  private readonly running = new Map<string, Running>();
  private readonly progressIntervalMs: number;
  private accepting = true;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly log: Logger;
  readonly stats = { started: 0, completed: 0, failed: 0, cancelled: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly store: SessionStore,
    private readonly uploads: UploadStore,
    private readonly queue: JobQueue,
    private readonly opts: SchedulerOptions,
  ) {
    this.progressIntervalMs = opts.progressIntervalMs ?? 200;
    this.log = opts.log ?? silentLogger;
    // Start on the next turn, so the caller answers while the session is still `pending`.
    queue.onReady(() => setImmediate(() => this.pump()));
    queue.onCancel((id) => this.stopRun(id));
  }

  get active(): number {
    return this.running.size;
  }

  /** Queues a pending session; throws QueueFullError when there is no room. */
  enqueue(session: Session): void {
    this.queue.enqueue(session.id);
  }

  /** Queues without the limit (sessions recovered after a restart were already accepted). */
  enqueueRecovered(session: Session): void {
    this.queue.enqueue(session.id, { limit: false });
  }

  /** Stops a queued or running session; the session is marked cancelled. */
  cancel(session: Session): void {
    this.stop(session);
    this.count(session.transition('cancelled'), 'cancelled');
  }

  /** Stops work on a session without changing its state (cleanup, expiry, shutdown). */
  stop(session: Session): void {
    this.queue.cancel(session.id);
    this.stopRun(session.id);
  }

  /** Starts no more jobs (a drain): queued ones stay queued, running ones go on. */
  pause(): void {
    this.accepting = false;
  }

  /** Resolves once no job runs, or after `timeoutMs`; true when idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.idleWaiters.indexOf(done);
        if (i >= 0) this.idleWaiters.splice(i, 1);
        resolve(this.running.size === 0);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /**
   * Refuses new work and stops running jobs, giving them back to the queue (shutdown). Returns
   * the sessions that were running.
   */
  shutdown(): Session[] {
    this.accepting = false;
    const stopped = [...this.running.values()];
    for (const run of stopped) {
      this.queue.release(run.lease);
      this.stopRun(run.session.id);
    }
    return stopped.map((r) => r.session);
  }

  private stopRun(id: string): void {
    const run = this.running.get(id);
    if (!run) return;
    this.running.delete(id);
    run.sub.unsubscribe();
    run.job.cancel();
    this.pump();
  }

  private pump(): void {
    if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    while (this.accepting && this.running.size < this.opts.concurrency) {
      const lease = this.queue.take();
      if (!lease) return;
      const session = this.store.get(lease.sessionId);
      if (!session || session.terminal) this.queue.cancel(lease.sessionId);
      else this.start(session, lease);
    }
  }

  private start(session: Session, lease: JobLease): void {
    const request = {
      type: session.meta.analysisType,
      file: this.uploads.videoPath(session.id),
      params: session.meta.params, // validated when the session was created
      media: this.mediaOutput(session),
    } as unknown as AnalysisRequest;
    if (session.state.status === 'processing' && !this.takeOver(session, lease)) return;
    session.transition('processing');
    let job: AnalysisJob;
    try {
      job = this.engine.analyze(request);
    } catch (err) {
      this.queue.complete(lease, 0);
      this.fail(session, err);
      return;
    }
    this.stats.started++;
    const startedAt = Date.now();
    const media = this.opts.media;
    const link = media ? (seg: HighlightSegment | WorkoutSegment) => media.linkSegment(session.id, seg) : null;
    const sub = job.events.subscribe({ next: progressWriter(session, this.progressIntervalMs, loggedSegments(session), link), error: () => {} });
    this.running.set(session.id, { session, lease, job, sub, startedAt });
    job.result.then(
      (result) => {
        if (!this.finish(session, startedAt)) return;
        try {
          if (media) result = media.linkResult(session.id, result);
          this.store.writeResult(session.id, result);
        } catch (err) {
          return this.fail(session, err);
        }
        const summary = completionSummary(result);
        if (this.opts.resultsUrl) summary.results_url = this.opts.resultsUrl(session.id);
        this.count(session.transition('completed', summary), 'completed');
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

  /**
   * A session still `processing`: its last run was interrupted. Notes the take-over in the log
   * and returns true, or fails it with `interrupted` once it had its attempts.
   */
  private takeOver(session: Session, lease: JobLease): boolean {
    const max = this.opts.maxAttempts ?? 3;
    const attempt = runsStarted(session) + 1;
    if (attempt > max) {
      this.queue.complete(lease, 0);
      const message = `The analysis was interrupted ${max === 1 ? 'once' : `${max} times`} (the server or its worker stopped); upload the video again.`;
      this.count(session.transition('failed', { error: { code: 'interrupted', message } }), 'failed');
      return false;
    }
    const { progress, segments } = session.state;
    session.append('progress', { progress, currentStep: takeoverStep(attempt, max), segments: { ...segments }, attempt });
    return true;
  }

  /** Where the engine writes the session's pictures; none when the folder cannot be made (the analysis runs anyway). */
  private mediaOutput(session: Session): MediaOutput | undefined {
    try {
      return this.opts.media?.prepare(session.id);
    } catch (err) {
      this.log.error({ err, sessionId: session.id }, 'no thumbnails: the media folder could not be made');
      return undefined;
    }
  }

  /** Frees the slot; false if the session was stopped meanwhile (its outcome no longer counts). */
  private finish(session: Session, startedAt: number): boolean {
    const run = this.running.get(session.id);
    if (!run || run.startedAt !== startedAt) return false;
    this.running.delete(session.id);
    run.sub.unsubscribe();
    this.queue.complete(run.lease, Date.now() - startedAt);
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
    if (error.code === 'internal') this.log.error({ err, sessionId: session.id }, 'analysis failed with an internal error');
    if (error.code === 'cancelled') this.count(session.transition('cancelled'), 'cancelled');
    else this.count(session.transition('failed', { error }), 'failed');
  }

  /** Counts an outcome once its transition took place. */
  private count(transition: Promise<boolean>, outcome: 'completed' | 'failed' | 'cancelled'): void {
    void transition.then((done) => {
      if (done) this.stats[outcome]++;
    });
  }
}

/**
 * Appends engine events to the session log. Segment events go through once (a run taken over
 * does not repeat those of the interrupted run); progress events
 * are thinned to one per interval unless the step or the segment count changed, so a chatty
 * engine cannot flood the log.
 */
function progressWriter(
  session: Session,
  intervalMs: number,
  logged: ReadonlySet<number>,
  link: ((seg: HighlightSegment | WorkoutSegment) => unknown) | null,
) {
  let lastAt = 0;
  let lastKey = '';
  let lastProgress = -1;
  return (ev: EngineEvent) => {
    if (ev.type === 'segment') {
      if (logged.has(ev.segment.index)) return; // appended by an interrupted run
      session.append('segment', (link ? link(ev.segment) : ev.segment) as Record<string, unknown>);
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
