// The session service: what the server's routes call. Owns the store, the scheduler and the
// expiry sweep; every transport (REST, SSE, WebSocket, legacy) reads the same sessions.
import fs from 'node:fs';
import { firstValueFrom, filter } from 'rxjs';
import type { AnalysisResult, AnalysisType, Engine, VideoInfo } from '../engine/types.js';
import { parseParams } from '../engine/params.js';
import type { SessionState } from './events.js';
import { isTerminal } from './events.js';
import { QueueFullError, Scheduler } from './scheduler.js';
import type { Session } from './session.js';
import { SessionStore, type RecoveryReport } from './store.js';

export { QueueFullError } from './scheduler.js';

export interface ServiceOptions {
  dataDir: string;
  concurrency: number;
  queueLimit: number;
  ttlMs: number;
  sweepIntervalMs?: number;
}

/** What the status endpoint shows of a session. */
export interface StatusView {
  sessionId: string;
  analysisType: string;
  status: string;
  progress: number;
  currentStep: string;
  segments: { completed: number; total: number };
  createdAt: string;
  updatedAt: string;
  error: { code: string; message: string } | null;
  upload?: { receivedBytes: number; totalBytes: number | null };
}

export type CancelOutcome = { ok: true; session: Session } | { ok: false; reason: 'not_found' | 'conflict'; session?: Session };

export class VideoService {
  readonly store: SessionStore;
  readonly scheduler: Scheduler;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Serialised results of recently read sessions: completed results never change. */
  private readonly resultCache = new Map<string, string>();
  private static readonly RESULT_CACHE_SIZE = 64;

  constructor(
    readonly engine: Engine,
    private readonly opts: ServiceOptions,
  ) {
    this.store = new SessionStore(opts.dataDir);
    this.scheduler = new Scheduler(engine, this.store, { concurrency: opts.concurrency, queueLimit: opts.queueLimit });
  }

  /** Recovers the journal, re-queues what never started, starts the expiry sweep. */
  start(): RecoveryReport {
    const report = this.store.recover();
    for (const s of report.requeue) this.scheduler.enqueueRecovered(s);
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
    return report;
  }

  validate(type: AnalysisType, rawParams: unknown) {
    return parseParams(type, rawParams);
  }

  probe(file: string): Promise<VideoInfo> {
    return this.engine.probe(file);
  }

  /** Throws QueueFullError when a new session could not be queued now. */
  assertRoom(): void {
    if (!this.scheduler.hasRoom()) throw new QueueFullError(this.scheduler.retryAfterSeconds());
  }

  /**
   * Creates a pending session for a fully received file (moved into the session's folder) and
   * queues it. Throws QueueFullError (and keeps nothing) when the queue is full.
   */
  createFromFile(file: string, spec: { analysisType: AnalysisType; params: Record<string, unknown>; filename: string | null }): Session {
    this.assertRoom();
    const session = this.store.create(spec, 'pending');
    try {
      fs.renameSync(file, this.store.videoPath(session.id));
      this.scheduler.enqueue(session);
    } catch (err) {
      this.store.remove(session.id);
      throw err;
    }
    return session;
  }

  /**
   * Creates a session for a resumable upload: status `uploading`, its video file written in
   * place by the upload protocol (see videoPath). Throws QueueFullError when the queue is full.
   */
  createUploading(spec: { analysisType: AnalysisType; params: Record<string, unknown>; filename: string | null; uploadLength: number | null }): Session {
    this.assertRoom();
    const session = this.store.create(spec, 'uploading');
    fs.writeFileSync(this.store.videoPath(session.id), '');
    return session;
  }

  /** Records upload progress as an `upload` event. */
  uploadProgress(session: Session, receivedBytes: number, totalBytes: number | null): void {
    if (session.state.status === 'uploading') session.append('upload', { receivedBytes, totalBytes });
  }

  /**
   * The last byte of a resumable upload arrived: probe it, then queue it (the upload was accepted
   * at creation, so the queue limit does not apply again). A file that is not a video fails the
   * session with `unsupported_media`.
   */
  async finishUpload(session: Session): Promise<void> {
    try {
      await this.engine.probe(this.store.videoPath(session.id));
    } catch (err) {
      const e = err as { code?: string; message?: string };
      session.transition('failed', { error: { code: 'unsupported_media', message: e.message ?? 'The uploaded file is not a video' } });
      return;
    }
    if (session.transition('pending')) this.scheduler.enqueueRecovered(session);
  }

  get(id: string): Session | undefined {
    return this.store.get(id);
  }

  status(id: string): StatusView | undefined {
    const s = this.store.get(id);
    return s && statusView(s.state);
  }

  /** The final result of a completed session (null if not completed). */
  result(id: string): AnalysisResult | null {
    const json = this.resultJson(id);
    return json === null ? null : (JSON.parse(json) as AnalysisResult);
  }

  /** The final result as JSON text, so answers can embed it without serialising it again. */
  resultJson(id: string): string | null {
    const s = this.store.get(id);
    if (!s || s.state.status !== 'completed') return null;
    let json = this.resultCache.get(id);
    if (json === undefined) {
      const text = this.store.journal.readResultText(id);
      if (text === null) return null;
      json = text;
      if (this.resultCache.size >= VideoService.RESULT_CACHE_SIZE) this.resultCache.delete(this.resultCache.keys().next().value!);
      this.resultCache.set(id, json);
    }
    return json;
  }

  /** Idempotent for cancelled sessions; conflict for completed or failed ones. */
  cancel(id: string): CancelOutcome {
    const s = this.store.get(id);
    if (!s) return { ok: false, reason: 'not_found' };
    if (s.state.status === 'cancelled') return { ok: true, session: s };
    if (isTerminal(s.state.status)) return { ok: false, reason: 'conflict', session: s };
    this.scheduler.cancel(s);
    return { ok: true, session: s };
  }

  /** Stops any work, deletes files and forgets the session. */
  cleanup(id: string): boolean {
    const s = this.store.get(id);
    if (!s) return false;
    this.scheduler.stop(s);
    if (!s.terminal) s.transition('cancelled');
    this.resultCache.delete(id);
    return this.store.remove(id);
  }

  /** Resolves with the session's terminal state. */
  waitForEnd(session: Session): Promise<SessionState> {
    if (session.terminal) return Promise.resolve(session.state);
    return firstValueFrom(session.states.pipe(filter((st) => isTerminal(st.status))));
  }

  sweep(now = Date.now()): number {
    const expired = this.store.expired(now, this.opts.ttlMs);
    for (const s of expired) this.cleanup(s.id);
    return expired.length;
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = { uploading: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const s of this.store.all()) counts[s.state.status]++;
    return counts;
  }

  /** Stops accepting, marks running work interrupted, flushes the journal. */
  shutdown(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of this.scheduler.shutdown()) {
      s.transition('failed', { error: { code: 'interrupted', message: 'The server shut down while this video was being analysed; upload it again.' } });
    }
    this.store.close();
  }
}

export function statusView(st: SessionState): StatusView {
  const view: StatusView = {
    sessionId: st.sessionId,
    analysisType: st.analysisType,
    status: st.status,
    progress: st.progress,
    currentStep: st.currentStep,
    segments: st.segments,
    createdAt: st.createdAt,
    updatedAt: st.updatedAt,
    error: st.error,
  };
  if (st.upload && st.status === 'uploading') view.upload = st.upload;
  return view;
}
