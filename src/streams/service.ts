// The session service: what the server's routes call. Owns the store, the scheduler and the
// expiry sweep; every transport (REST, SSE, WebSocket, legacy) reads the same sessions.
import { firstValueFrom, filter } from 'rxjs';
import type { AnalysisResult, AnalysisType, Engine, VideoInfo } from '../engine/types.js';
import { parseParams } from '../engine/params.js';
import { DataDirLock } from './data-dir-lock.js';
import type { SessionState } from './events.js';
import { isTerminal } from './events.js';
import type { FileWriter } from './file-writer.js';
import { DataLayout } from './layout.js';
import { QueueFullError, UploadLimitError } from './errors.js';
import { LocalJobQueue, type JobQueue } from './job-queue.js';
import { Scheduler } from './scheduler.js';
import type { Session } from './session.js';
import { StorageError } from './storage.js';
import { JournalSessionStore } from './store.js';
import type { IncomingUpload, RecoveryReport, SessionStore, StorageHealth, UploadStore } from './stores.js';
import { FileUploadStore } from './uploads.js';
import { MediaStore } from './media.js';
import { SessionMedia, type MediaLinks } from './session-media.js';

export { QueueFullError, UploadLimitError, MediaNotFoundError, MediaNotReadyError } from './errors.js';
export type { MediaLinks } from './session-media.js';
export { DataDirInUseError } from './data-dir-lock.js';
export { StorageError } from './storage.js';
export type { IncomingUpload } from './stores.js';

export interface ServiceOptions {
  dataDir: string;
  concurrency: number;
  queueLimit: number;
  ttlMs: number;
  /** Resumable uploads that may be open at once. */
  maxOpenUploads: number;
  sweepIntervalMs?: number;
  /** URLs of the media routes: results and segments link to their clips, thumbnails, reel, storyboard. */
  mediaLinks?: MediaLinks;
}

export interface ServiceHealth {
  status: 'healthy' | 'degraded';
  /** Why it is degraded (one line each). */
  problems: string[];
  engine: Engine['info'] & { ready: boolean; state: string; detail: string | null };
  storage: StorageHealth;
  queue: { running: number; queued: number; concurrency: number; queueLimit: number };
  openUploads: number;
  sessions: number;
}

/** Counters and gauges for /metrics. */
export interface ServiceStats {
  sessionsByStatus: Record<string, number>;
  queued: number;
  running: number;
  openUploads: number;
  /** Analyses since start, by outcome. */
  jobs: Record<string, number>;
  engineReady: boolean;
  storageWritable: boolean;
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
  /** The uploaded file's name as the client gave it (display only). */
  filename: string | null;
  upload?: { receivedBytes: number; totalBytes: number | null };
}

export type CancelOutcome = { ok: true; session: Session } | { ok: false; reason: 'not_found' | 'conflict'; session?: Session };


/** An open upload's Retry-After: nothing says when uploads in progress will finish. */
const OPEN_UPLOADS_RETRY_SECONDS = 30;

export class VideoService {
  readonly store: SessionStore;
  readonly scheduler: Scheduler;
  private readonly queue: JobQueue;
  private readonly layout: DataLayout;
  private readonly uploads: UploadStore;
  private readonly mediaFiles: MediaStore;
  /** Clips, reel, thumbnails and storyboard of sessions. */
  readonly media: SessionMedia;
  private lock: DataDirLock | null = null;
  /** Ids of resumable uploads not finished yet (they count against maxOpenUploads). */
  private readonly openUploads = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Serialised results of recently read sessions: completed results never change. */
  private readonly resultCache = new Map<string, string>();
  private static readonly RESULT_CACHE_SIZE = 64;

  constructor(
    readonly engine: Engine,
    private readonly opts: ServiceOptions,
  ) {
    this.layout = new DataLayout(opts.dataDir);
    this.uploads = new FileUploadStore(this.layout);
    this.store = new JournalSessionStore(this.layout);
    this.store.onPersistFailure = (session, err) => this.storageFailed(session, err);
    this.queue = new LocalJobQueue({ concurrency: opts.concurrency, queueLimit: opts.queueLimit });
    this.mediaFiles = new MediaStore(this.layout);
    this.media = new SessionMedia(this.store, this.uploads, this.mediaFiles, (id) => this.result(id), opts.mediaLinks ?? null);
    const media = {
      prepare: (id: string) => this.mediaFiles.prepare(id),
      linkSegment: this.media.linkSegment.bind(this.media),
      linkResult: this.media.linkResult.bind(this.media),
    };
    this.scheduler = new Scheduler(engine, this.store, this.uploads, this.queue, { concurrency: opts.concurrency, media });
  }

  /**
   * Takes DATA_DIR for this process (DataDirInUseError when another one runs on it), recovers
   * the journal, re-queues what never started, starts the expiry sweep.
   */
  start(): RecoveryReport {
    this.lock = DataDirLock.acquire(this.layout.lockFile);
    let report: RecoveryReport;
    try {
      this.uploads.clearIncoming();
      report = this.store.recover();
    } catch (err) {
      this.lock.release();
      throw err;
    }
    for (const s of report.requeue) this.scheduler.enqueueRecovered(s);
    for (const s of report.uploading) {
      this.trackUpload(s);
      this.uploadProgress(s, this.uploads.offset(s.id), s.meta.uploadLength ?? null); // the last upload event may be older than the file
    }
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
    return report;
  }

  validate(type: AnalysisType, rawParams: unknown) {
    return parseParams(type, rawParams);
  }

  /** Throws QueueFullError when a new session could not be queued now. */
  assertRoom(): void {
    if (!this.queue.hasRoom()) throw new QueueFullError(this.queue.retryAfterSeconds());
  }

  /**
   * Throws a StorageError (`full`) when DATA_DIR plainly cannot take `bytes` more, before any
   * of them is received. A null size checks only that DATA_DIR is writable.
   */
  assertSpace(bytes: number | null): void {
    const health = this.uploads.checkHealth();
    if (health.error) throw health.error;
    if (bytes !== null && health.freeBytes !== null && bytes > health.freeBytes) {
      throw new StorageError('full', 'Could not store the upload: the disk is full');
    }
  }

  /** Starts receiving a multipart upload (adopted by createFromFile, or discarded). */
  receiveFile(): IncomingUpload {
    return this.uploads.receive();
  }

  /** Probes a received file: EngineError `unsupported_media` when it is not a video. */
  probe(file: IncomingUpload): Promise<VideoInfo> {
    return this.engine.probe(file.path);
  }

  /**
   * Creates a pending session for a fully received file (moved into the session's folder) and
   * queues it. Throws QueueFullError or a StorageError and keeps nothing (the caller discards
   * the file).
   */
  createFromFile(file: IncomingUpload, spec: { analysisType: AnalysisType; params: Record<string, unknown>; filename: string | null }): Session {
    this.assertRoom();
    const session = this.store.create(spec, 'pending');
    try {
      this.uploads.adopt(file, session.id);
      this.scheduler.enqueue(session);
    } catch (err) {
      this.removeQuietly(session.id);
      throw err;
    }
    return session;
  }

  /**
   * Creates a session for a resumable upload: status `uploading`, its video file written in
   * place (appendUpload). Throws UploadLimitError when too many uploads are open,
   * QueueFullError when the queue is full, a StorageError when DATA_DIR cannot take it.
   */
  createUploading(spec: { analysisType: AnalysisType; params: Record<string, unknown>; filename: string | null; uploadLength: number }): Session {
    if (this.openUploads.size >= this.opts.maxOpenUploads) throw new UploadLimitError(this.opts.maxOpenUploads, OPEN_UPLOADS_RETRY_SECONDS);
    this.assertRoom();
    this.assertSpace(spec.uploadLength);
    const session = this.store.create(spec, 'uploading');
    try {
      this.uploads.createResumable(session.id);
    } catch (err) {
      this.removeQuietly(session.id);
      throw err;
    }
    this.trackUpload(session);
    return session;
  }

  /** Bytes of a resumable upload already on disk. */
  uploadOffset(session: Session): number {
    return this.uploads.offset(session.id);
  }

  /** A writer continuing a resumable upload at `offset`. */
  appendUpload(session: Session, offset: number): FileWriter {
    return this.uploads.appendAt(session.id, offset);
  }

  /** Cuts a resumable upload back to `length` bytes (a refused body). */
  truncateUpload(session: Session, length: number): void {
    this.uploads.truncate(session.id, length);
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
      await this.engine.probe(this.uploads.videoPath(session.id));
    } catch (err) {
      const e = err as { code?: string; message?: string };
      session.transition('failed', { error: { code: 'unsupported_media', message: e.message ?? 'The uploaded file is not a video' } });
      return;
    }
    if (session.terminal) return; // cancelled or cleaned up while probing
    // An upload that finishes while the queue is full stays `uploading`: the caller refuses its
    // last bytes with 503, and the client sends them again later.
    this.assertRoom();
    if (session.transition('pending')) this.scheduler.enqueue(session);
  }

  get(id: string): Session | undefined {
    return this.store.get(id);
  }

  status(id: string): StatusView | undefined {
    const s = this.store.get(id);
    return s && statusView(s.state, s.meta.filename);
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
      const text = this.store.resultText(id);
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
    this.mediaFiles.forget(id);
    return this.store.remove(id);
  }

  /** Whether the service can do its work now: the engine, DATA_DIR, the queue. */
  health(): ServiceHealth {
    const problems: string[] = [];
    const engine = this.engine.health();
    if (engine.state === 'degraded') problems.push(`engine: ${engine.detail ?? 'degraded'}`);
    const storage = this.uploads.checkHealth();
    if (storage.problem) problems.push(`storage: ${storage.problem}`);
    if (storage.writable) this.store.catchUp();
    if (storage.writable && this.lock && !this.lock.verify()) problems.push('storage: the DATA_DIR lock file was removed or replaced; another process may be using DATA_DIR');
    return {
      status: problems.length ? 'degraded' : 'healthy',
      problems,
      engine: { ...this.engine.info, ready: engine.ready, state: engine.state, detail: engine.detail ?? null },
      storage,
      queue: { running: this.scheduler.active, queued: this.queue.depth, concurrency: this.opts.concurrency, queueLimit: this.opts.queueLimit },
      openUploads: this.openUploads.size,
      sessions: this.store.size,
    };
  }

  stats(): ServiceStats {
    const sessionsByStatus: Record<string, number> = { uploading: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const s of this.store.all()) sessionsByStatus[s.state.status]++;
    return {
      sessionsByStatus,
      queued: this.queue.depth,
      running: this.scheduler.active,
      openUploads: this.openUploads.size,
      jobs: { ...this.scheduler.stats },
      engineReady: this.engine.health().ready,
      storageWritable: this.uploads.checkHealth().writable,
    };
  }

  private trackUpload(session: Session): void {
    this.openUploads.add(session.id);
    const sub = session.states.subscribe((st) => {
      if (st.status === 'uploading') return;
      this.openUploads.delete(session.id);
      queueMicrotask(() => sub.unsubscribe());
    });
  }

  /**
   * A session's event could not be stored. An analysis fails with `storage_error` (its results
   * could not be stored either); an upload goes on (its events are progress, journaled later,
   * and its bytes get their own 507 from the upload store).
   */
  private storageFailed(session: Session, err: StorageError): void {
    console.error(`session ${session.id}: ${err.message}`);
    if (session.terminal || this.store.get(session.id) !== session || session.state.status === 'uploading') return;
    this.scheduler.failStorage(session, err);
  }

  private removeQuietly(id: string): void {
    try {
      this.store.remove(id);
    } catch (err) {
      console.error(`session ${id}: could not remove its files`, err);
    }
  }

  /** Resolves with the session's terminal state. */
  waitForEnd(session: Session): Promise<SessionState> {
    if (session.terminal) return Promise.resolve(session.state);
    return firstValueFrom(session.states.pipe(filter((st) => isTerminal(st.status))));
  }

  /** Deletes expired sessions; one that cannot be deleted now is tried again at the next sweep. */
  sweep(now = Date.now()): number {
    this.store.catchUp();
    const expired = this.store.expired(now, this.opts.ttlMs);
    for (const s of expired) {
      try {
        this.cleanup(s.id);
      } catch (err) {
        console.error(`session ${s.id}: expiry failed`, err);
      }
    }
    return expired.length;
  }

  /** Stops accepting, marks running work interrupted, flushes the journal. */
  shutdown(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of this.scheduler.shutdown()) {
      s.transition('failed', { error: { code: 'interrupted', message: 'The server shut down while this video was being analysed; upload it again.' } });
    }
    this.store.close();
    this.lock?.release();
    this.lock = null;
  }
}

export function statusView(st: SessionState, filename: string | null): StatusView {
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
    filename,
  };
  if (st.upload && st.status === 'uploading') view.upload = st.upload;
  return view;
}
