// Runs the jobs of a JobQueue on the engine, up to `concurrency` at once, turning engine events
// into session events. A job cancelled through the queue (from wherever the cancel came in)
// stops here.
import type { Subscription } from 'rxjs';
import type { AnalysisJob, AnalysisRequest, AnalysisResult, Engine, EngineEvent, HighlightSegment, MediaOutput, WorkoutSegment } from '../engine/types.js';
import { EngineError } from '../engine/types.js';
import { RedisUnavailableError } from './errors.js';
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
  /** How long a silent runner keeps a job (JOB_LEASE): running leases are renewed every third of it. */
  leaseMs?: number;
  /**
   * Also look for jobs this often while a slot is free (a shared queue: a lease that ran out on
   * another worker announces nothing, and a queue that could not be reached is tried again).
   */
  pollMs?: number;
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
  renewTimer: NodeJS.Timeout;
  /** The job is over and its outcome is being stored: it still counts (a drain waits for it). */
  ending: boolean;
}

export class Scheduler {
  private readonly running = new Map<string, Running>();
  private readonly progressIntervalMs: number;
  private accepting = true;
  /** Jobs taken from the queue and not running yet (their slot is held). */
  private starting = 0;
  private pumping = false;
  private pollTimer: NodeJS.Timeout | null = null;
  /** The last pump could not reach the queue. */
  private queueAway = false;
  private pumpAgain = false;
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
    if (opts.pollMs) {
      this.pollTimer = setInterval(() => {
        if (this.accepting && this.running.size + this.starting < this.opts.concurrency) this.pump();
      }, opts.pollMs);
      this.pollTimer.unref();
    }
  }

  get active(): number {
    return this.running.size;
  }

  /** Queues a pending session; throws QueueFullError when there is no room. */
  enqueue(session: Session): Promise<void> {
    return this.queue.enqueue(session.id);
  }

  /** Queues without the limit (sessions recovered after a restart were already accepted). */
  enqueueRecovered(session: Session): Promise<void> {
    return this.queue.enqueue(session.id, { limit: false });
  }

  /** Stops a queued or running session; the session is marked cancelled. */
  async cancel(session: Session): Promise<void> {
    await this.stop(session);
    if (await session.transition('cancelled')) this.stats.cancelled++;
  }

  /** Stops work on a session without changing its state (cleanup, expiry, shutdown). */
  async stop(session: Session): Promise<void> {
    this.stopRun(session.id);
    await this.queue.cancel(session.id);
  }

  /** Starts no more jobs (a drain): queued ones stay queued, running ones go on. */
  pause(): void {
    this.accepting = false;
  }

  /** Takes jobs from the queue (ROLE=api nodes never call it: they run no analyses). */
  resume(): void {
    this.accepting = true;
    this.pump();
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
  async shutdown(): Promise<Session[]> {
    this.accepting = false;
    if (this.pollTimer) clearInterval(this.pollTimer);
    // (a run whose job is over only stores its outcome: its lease is already completed)
    const stopped = [...this.running.values()].filter((run) => !run.ending);
    for (const run of stopped) this.stopRun(run.session.id);
    await Promise.all(stopped.map((run) => this.queue.release(run.lease).catch((err) => this.log.warn({ err, sessionId: run.session.id }, 'could not give the job back'))));
    return stopped.map((r) => r.session);
  }

  private stopRun(id: string): void {
    const run = this.running.get(id);
    if (!run) return;
    this.running.delete(id);
    clearInterval(run.renewTimer);
    run.sub.unsubscribe();
    run.job.cancel();
    this.pump();
  }

  /** Fills the free slots from the queue; one pump at a time (a call meanwhile pumps again after it). */
  private pump(): void {
    if (this.running.size === 0 && this.starting === 0) for (const w of this.idleWaiters.splice(0)) w();
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.fill()
      .then(
        () => (this.queueAway = false),
        (err) => {
          // once per outage: with polling this is tried again every pollMs
          if (!this.queueAway) this.log.warn({ err }, 'could not take jobs from the queue; trying again');
          this.queueAway = true;
        },
      )
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  private async fill(): Promise<void> {
    while (this.accepting && this.running.size + this.starting < this.opts.concurrency) {
      const lease = await this.queue.take();
      if (!lease) return;
      this.starting++;
      try {
        const session = await this.store.get(lease.sessionId);
        // whether it ended, or is a take-over and of which attempt, is read from the whole log
        if (session) await this.store.refresh(session);
        if (!session || session.terminal) await this.queue.cancel(lease.sessionId);
        else if (!this.accepting) await this.queue.release(lease);
        else await this.start(session, lease);
      } finally {
        this.starting--;
      }
    }
  }

  private async start(session: Session, lease: JobLease): Promise<void> {
    const request = {
      type: session.meta.analysisType,
      file: this.uploads.videoPath(session.id),
      params: session.meta.params, // validated when the session was created
      media: this.mediaOutput(session),
    } as unknown as AnalysisRequest;
    if (session.state.status === 'processing' && !(await this.takeOver(session, lease))) return;
    await session.transition('processing');
    // cancelled while it was being taken: the lease is gone
    if (session.terminal || !(await this.queue.renew(lease))) return;
    let job: AnalysisJob;
    try {
      job = this.engine.analyze(request);
    } catch (err) {
      await this.queue.complete(lease, 0);
      await this.fail(session, err);
      return;
    }
    this.stats.started++;
    const startedAt = Date.now();
    const media = this.opts.media;
    const link = media ? (seg: HighlightSegment | WorkoutSegment) => media.linkSegment(session.id, seg) : null;
    /** The run's event writes still in flight: its outcome is stored only after them. */
    let writes: Promise<unknown> = Promise.resolve();
    const write = (p: Promise<unknown>) => {
      const w = p.catch((err) => {
        this.log.warn({ err, sessionId: session.id }, 'an engine event could not be stored');
        // The shared store stayed away for a whole lease: the log now lacks this event, and the
        // lease ran out (another worker may take the job). Stop this run without completing it,
        // so the take-over after the lease runs what is not in the log.
        if (err instanceof RedisUnavailableError && this.running.get(session.id)?.lease === lease) this.stopRun(session.id);
      });
      writes = Promise.all([writes, w]);
      return w;
    };
    const sub = job.events.subscribe({ next: progressWriter(session, this.progressIntervalMs, loggedSegments(session), link, write), error: () => {} });
    const renewTimer = setInterval(() => void this.renew(session.id, lease), Math.max(100, (this.opts.leaseMs ?? 15_000) / 3));
    renewTimer.unref();
    const run: Running = { session, lease, job, sub, startedAt, renewTimer, ending: false };
    this.running.set(session.id, run);
    job.result.then(
      async (result) => {
        // an event that could not be stored stops the run (above): it must not complete without it
        await writes;
        if (!this.finish(run)) return;
        try {
          if (media) result = media.linkResult(session.id, result);
          await this.store.writeResult(session.id, result);
        } catch (err) {
          return this.fail(session, err);
        }
        const summary = completionSummary(result);
        if (this.opts.resultsUrl) summary.results_url = this.opts.resultsUrl(session.id);
        if (await session.transition('completed', summary)) this.stats.completed++;
      },
      async (err) => {
        if (!this.finish(run)) return;
        // A video that vanished from under the engine is a storage failure, not a bad video.
        if (err instanceof EngineError && err.code !== 'cancelled' && !this.uploads.hasVideo(session.id)) {
          err = new StorageError('failed', 'Could not read the uploaded video: it is no longer in the data directory');
        }
        await this.fail(session, err);
      },
    )
      .catch((err) => this.log.error({ err, sessionId: session.id }, 'the end of an analysis could not be stored'))
      .finally(() => this.ended(run));
  }

  /**
   * Keeps a running job's lease. A lease that is no longer ours (cancelled, or taken over by
   * another worker after we were silent too long) stops the run; a store that cannot be reached
   * now is tried again at the next renewal (the lease runs out meanwhile if it stays away).
   */
  private async renew(id: string, lease: JobLease): Promise<void> {
    let held: boolean;
    try {
      held = await this.queue.renew(lease);
    } catch (err) {
      this.log.warn({ err, sessionId: id }, 'could not renew the job lease');
      return;
    }
    if (held || this.running.get(id)?.lease !== lease) return;
    this.log.warn({ sessionId: id }, 'the job lease was lost (cancelled or taken over): stopping this run');
    this.stopRun(id);
  }

  /**
   * A session still `processing`: its last run was interrupted. Notes the take-over in the log
   * and returns true, or fails it with `interrupted` once it had its attempts.
   */
  private async takeOver(session: Session, lease: JobLease): Promise<boolean> {
    const max = this.opts.maxAttempts ?? 3;
    const attempt = runsStarted(session) + 1;
    if (attempt > max) {
      await this.queue.complete(lease, 0);
      const message = `The analysis was interrupted ${max === 1 ? 'once' : `${max} times`} (the server or its worker stopped); upload the video again.`;
      if (await session.transition('failed', { error: { code: 'interrupted', message } })) this.stats.failed++;
      return false;
    }
    const { progress, segments } = session.state;
    await session.append('progress', { progress, currentStep: takeoverStep(attempt, max), segments: { ...segments }, attempt });
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

  /**
   * The engine is done with a run: its job is completed in the queue; false if the run was
   * stopped meanwhile (its outcome no longer counts). The slot stays taken until ended().
   */
  private finish(run: Running): boolean {
    if (this.running.get(run.session.id) !== run || run.ending) return false;
    run.ending = true;
    clearInterval(run.renewTimer);
    run.sub.unsubscribe();
    void this.queue.complete(run.lease, Date.now() - run.startedAt).catch((err) => this.log.warn({ err, sessionId: run.session.id }, 'could not mark the job done'));
    return true;
  }

  /** The run's outcome is stored (or it was stopped): frees its slot. */
  private ended(run: Running): void {
    if (this.running.get(run.session.id) === run) this.running.delete(run.session.id);
    this.pump();
  }

  /** Stops a session whose events or result cannot be stored, failing it with `storage_error`. */
  async failStorage(session: Session, err: StorageError): Promise<void> {
    await this.stop(session);
    await this.fail(session, err);
  }

  private async fail(session: Session, err: unknown): Promise<void> {
    const error =
      err instanceof EngineError
        ? { code: err.code, message: err.message }
        : err instanceof StorageError
          ? { code: 'storage_error', message: err.message }
          : { code: 'internal', message: 'The analysis failed because of an internal error' };
    if (error.code === 'internal') this.log.error({ err, sessionId: session.id }, 'analysis failed with an internal error');
    if (error.code === 'cancelled') {
      if (await session.transition('cancelled')) this.stats.cancelled++;
    } else if (await session.transition('failed', { error })) this.stats.failed++;
  }
}

/**
 * Appends engine events to the session log. Segment events go through once (a run taken over
 * does not repeat those of the interrupted run); appends are not awaited one by one (the store
 * keeps their order); progress events
 * are thinned to one per interval unless the step or the segment count changed, so a chatty
 * engine cannot flood the log.
 */
function progressWriter(
  session: Session,
  intervalMs: number,
  logged: ReadonlySet<number>,
  link: ((seg: HighlightSegment | WorkoutSegment) => unknown) | null,
  write: (appended: Promise<unknown>) => void,
) {
  let lastAt = 0;
  let lastKey = '';
  let lastProgress = -1;
  return (ev: EngineEvent) => {
    if (ev.type === 'segment') {
      if (logged.has(ev.segment.index)) return; // appended by an interrupted run
      write(session.append('segment', (link ? link(ev.segment) : ev.segment) as Record<string, unknown>));
      return;
    }
    const progress = Math.max(lastProgress, Math.min(0.999, round3(ev.progress)));
    const key = `${ev.currentStep}|${ev.segments.completed}|${ev.segments.total}`;
    const now = Date.now();
    if (key === lastKey && (now - lastAt < intervalMs || progress === lastProgress)) return;
    lastAt = now;
    lastKey = key;
    lastProgress = progress;
    write(session.append('progress', { progress, currentStep: ev.currentStep, segments: { ...ev.segments } }));
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
