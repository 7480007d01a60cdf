// The session service: what the server's routes call. Owns the store, the scheduler and the
// expiry sweep; every transport (REST, SSE, WebSocket, legacy) reads the same sessions.
import { firstValueFrom, filter } from 'rxjs';
import type { AnalysisResult, AnalysisType, Engine, VideoInfo } from '../engine/types.js';
import { parseParams } from '../engine/params.js';
import { DataDirLock } from './data-dir-lock.js';
import type { SessionState, SessionStatus, WebhookTarget } from './events.js';
import { isTerminal } from './events.js';
import type { FileWriter } from './file-writer.js';
import { DataLayout } from './layout.js';
import { QueueFullError, RedisUnavailableError, ShuttingDownError, UploadLimitError } from './errors.js';
import { LocalJobQueue, type JobQueue } from './job-queue.js';
import { silentLogger, type Logger } from './log.js';
import { Scheduler } from './scheduler.js';
import type { Session } from './session.js';
import { StorageError } from './storage.js';
import { JournalSessionStore } from './store.js';
import type { ClusterLock, IncomingUpload, RecoveryReport, SessionListQuery, SessionStore, StorageHealth, UploadLocks, UploadStore, WebhookSchedule, WebhookStore } from './stores.js';
import { LocalClusterLock, LocalUploadLocks } from './local-locks.js';
import { FileUploadStore } from './uploads.js';
import { FileWebhookStore, TimerWebhookSchedule } from './webhook-store.js';
import { Webhooks, parseWebhookUrl, type WebhookView } from './webhooks.js';
import { MediaStore } from './media.js';
import { SessionMedia, type MediaLinks } from './session-media.js';

export {
  InvalidWebhookUrlError,
  MediaGoneError,
  MediaNotFoundError,
  MediaNotReadyError,
  QueueFullError,
  RedisUnavailableError,
  ShuttingDownError,
  UploadLimitError,
} from './errors.js';
export type { MediaLinks } from './session-media.js';
export { DataDirInUseError } from './data-dir-lock.js';
export { StorageError } from './storage.js';
export type { IncomingUpload, UploadLock, UploadLocks } from './stores.js';

export interface ServiceOptions {
  dataDir: string;
  concurrency: number;
  queueLimit: number;
  ttlMs: number;
  /** Resumable uploads that may be open at once. */
  maxOpenUploads: number;
  /** Videos of ended sessions are deleted this long after the end (null: with the session). */
  videoTtlMs?: number | null;
  sweepIntervalMs?: number;
  log?: Logger;
  webhooks?: {
    /** Used for sessions whose upload named none. */
    defaultUrl: string | null;
    secret: string | null;
    retryBaseMs: number;
    maxAgeMs: number;
  };
  /** Runs of one job (the first and its take-overs) before it fails with `interrupted` (default 3). */
  maxAttempts?: number;
  /** Where clients read a session's results (given to the `completed` event). */
  resultsUrl?: (sessionId: string) => string;
  /** URLs of the media routes: results and segments link to their clips, thumbnails, reel, storyboard. */
  mediaLinks?: MediaLinks;
  /** How long a silent runner keeps a job (JOB_LEASE). */
  jobLeaseMs?: number;
  /** false: this process runs no analyses (ROLE=api); its queue is served by workers. */
  runJobs?: boolean;
  /** The node's role, for /health and /metrics. */
  role?: 'all' | 'api' | 'worker';
  /** A shared store for several nodes (Redis); default: the journal under DATA_DIR, for this process alone. */
  backend?: ServiceBackend;
}

/** The shared implementations of the boundaries (cluster mode): nodes share DATA_DIR, so no DataDirLock. */
export interface ServiceBackend {
  store: SessionStore;
  queue: JobQueue;
  uploadLocks: UploadLocks;
  clusterLock: ClusterLock;
  /** Webhook deliveries and when they are due, for every node (any sending node may send one). */
  webhooks: WebhookStore & WebhookSchedule;
  /** This node's id (its own folder for incoming multipart files). */
  nodeId: string;
  /** Whether the shared store is reachable now. */
  connected(): boolean;
  /** Closes the connections (after the service's shutdown closed the store and the queue). */
  close(): Promise<void>;
}

/** A session reached a terminal state; runMs is how long it was processing (null if it never ran). */
export type SessionEndListener = (session: Session, status: SessionStatus, runMs: number | null) => void;

export interface ServiceHealth {
  status: 'healthy' | 'degraded';
  /** Why it is degraded (one line each). */
  problems: string[];
  role: 'all' | 'api' | 'worker';
  /** The shared store's connection; null in single-process mode. */
  redis: { connected: boolean } | null;
  engine: Engine['info'] & { ready: boolean; state: string; detail: string | null };
  storage: StorageHealth;
  /** queued: waiting in the queue (the cluster's, with Redis); null while the shared store is away. */
  queue: { running: number; queued: number | null; concurrency: number; queueLimit: number };
  openUploads: number;
  /** Sessions stored; null while the shared store is away. */
  sessions: number | null;
}

/** Counters and gauges for /metrics. */
export interface ServiceStats {
  role: 'all' | 'api' | 'worker';
  /** null in single-process mode. */
  redisConnected: boolean | null;
  /** null while the shared store is away (so are the queue's numbers). */
  sessionsByStatus: Record<string, number> | null;
  queued: number | null;
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
  /** Bytes the session's files take in DATA_DIR, and whether its video is still stored (VIDEO_TTL). */
  storage?: { bytes: number; video: boolean };
  /** The last webhook delivery attempt, when the session has a webhook. */
  webhook?: WebhookView | null;
}

export type CancelOutcome = { ok: true; session: Session } | { ok: false; reason: 'not_found' | 'conflict'; session?: Session };


type SharedCounts = { byStatus: Record<SessionStatus, number>; queued: number };

/** How often /health and /metrics read the counts of a shared store at most. */
const SHARED_COUNTS_MS = 1000;

/** An open upload's Retry-After: nothing says when uploads in progress will finish. */
const OPEN_UPLOADS_RETRY_SECONDS = 30;

export class VideoService {
  readonly store: SessionStore;
  readonly scheduler: Scheduler;
  private readonly queue: JobQueue;
  private readonly layout: DataLayout;
  private readonly uploads: UploadStore;
  private readonly mediaFiles: MediaStore;
  /** The per-upload lock of resumable uploads (tus). */
  readonly uploadLocks: UploadLocks;
  private readonly clusterLock: ClusterLock;
  private readonly backend: ServiceBackend | null;
  /** Clips, reel, thumbnails and storyboard of sessions. */
  readonly media: SessionMedia;
  private lock: DataDirLock | null = null;
  /** Ids of resumable uploads not finished yet (they count against maxOpenUploads). */
  private readonly openUploads = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Serialised results of recently read sessions: completed results never change. */
  private readonly resultCache = new Map<string, string>();
  private static readonly RESULT_CACHE_SIZE = 64;
  private readonly log: Logger;
  private readonly webhooks: Webhooks;
  private readonly endListeners: SessionEndListener[] = [];
  /** Set by drain(): no new uploads. */
  private draining = false;
  /** The last reading of the shared store's counts (sharedCounts). */
  private counts: { at: number; value: SharedCounts | null } | null = null;
  private countsLoading: Promise<void> | null = null;

  constructor(
    readonly engine: Engine,
    private readonly opts: ServiceOptions,
  ) {
    this.log = opts.log ?? silentLogger;
    this.backend = opts.backend ?? null;
    this.layout = new DataLayout(opts.dataDir, this.backend?.nodeId ?? null);
    this.uploads = new FileUploadStore(this.layout);
    this.store = this.backend?.store ?? new JournalSessionStore(this.layout);
    this.store.onPersistFailure = (session, err) => void this.storageFailed(session, err).catch((e) => this.log.error({ err: e, sessionId: session.id }, 'could not stop the session after a storage failure'));
    this.queue = this.backend?.queue ?? new LocalJobQueue({ concurrency: opts.concurrency, queueLimit: opts.queueLimit });
    this.uploadLocks = this.backend?.uploadLocks ?? new LocalUploadLocks();
    this.clusterLock = this.backend?.clusterLock ?? new LocalClusterLock();
    this.mediaFiles = new MediaStore(this.layout);
    this.media = new SessionMedia(this.store, this.uploads, this.mediaFiles, (id) => this.result(id), opts.mediaLinks ?? null);
    const media = {
      prepare: (id: string) => this.mediaFiles.prepare(id),
      linkSegment: this.media.linkSegment.bind(this.media),
      linkResult: this.media.linkResult.bind(this.media),
    };
    this.scheduler = new Scheduler(engine, this.store, this.uploads, this.queue, {
      concurrency: opts.concurrency,
      maxAttempts: opts.maxAttempts,
      leaseMs: opts.jobLeaseMs,
      pollMs: this.backend ? Math.min(1000, (opts.jobLeaseMs ?? 15_000) / 3) : undefined,
      log: this.log,
      resultsUrl: opts.resultsUrl,
      media,
    });
    if (opts.runJobs === false) this.scheduler.pause();
    const wh = opts.webhooks ?? { defaultUrl: null, secret: null, retryBaseMs: 10_000, maxAgeMs: 24 * 3_600_000 };
    const files = this.backend ? null : new FileWebhookStore(this.layout);
    this.webhooks = new Webhooks(this.backend?.webhooks ?? files!, this.backend?.webhooks ?? new TimerWebhookSchedule(files!), {
      secret: wh.secret,
      retryBaseMs: wh.retryBaseMs,
      maxAgeMs: wh.maxAgeMs,
      log: this.log,
      session: async (id) => {
        const s = await this.store.get(id);
        if (s) await this.store.refresh(s);
        return s;
      },
    });
  }

  /** Called for every session that ends (metrics). */
  onSessionEnd(listener: SessionEndListener): void {
    this.endListeners.push(listener);
  }

  /**
   * The webhook of a new session: the upload's webhook_url (InvalidWebhookUrlError unless an
   * http(s) URL), else the service's default, else none. `base` is the service's URL as the
   * uploader reached it (for the results URL).
   */
  webhookTarget(raw: string | undefined | null, base: string): WebhookTarget | null {
    const url = raw ? parseWebhookUrl(raw) : this.opts.webhooks?.defaultUrl;
    return url ? { url, base } : null;
  }

  /**
   * Takes DATA_DIR for this process (DataDirInUseError when another one runs on it; a shared
   * store's nodes share DATA_DIR and take no lock), recovers the journal, re-queues what never
   * started, starts the expiry sweep.
   */
  async start(): Promise<RecoveryReport> {
    if (!this.backend) this.lock = DataDirLock.acquire(this.layout.lockFile);
    let report: RecoveryReport;
    try {
      this.uploads.clearIncoming();
      report = await this.store.recover();
    } catch (err) {
      this.lock?.release();
      throw err;
    }
    for (const s of report.sessions) {
      if (!s.terminal) this.watch(s);
      // ended before its delivery could be recorded (the process stopped in between)
      else if (s.meta.webhook && !(await this.webhooks.has(s.id))) void this.sendWebhook(s);
    }
    this.webhooks.start();
    for (const s of report.requeue) await this.scheduler.enqueueRecovered(s);
    for (const s of report.uploading) {
      this.trackUpload(s);
      this.uploadProgress(s, this.uploads.offset(s.id), s.meta.uploadLength ?? null); // the last upload event may be older than the file
    }
    if (this.opts.runJobs !== false) this.scheduler.resume();
    if (this.backend?.connected()) await this.refreshCounts();
    void this.sweep();
    // Every minute, or often enough for a short VIDEO_TTL to be kept to within a quarter of it.
    const every = Math.max(250, Math.min(60_000, (this.opts.videoTtlMs ?? Infinity) / 4));
    this.sweepTimer = setInterval(() => void this.sweep(), this.opts.sweepIntervalMs ?? every);
    this.sweepTimer.unref();
    return report;
  }

  validate(type: AnalysisType, rawParams: unknown) {
    return parseParams(type, rawParams);
  }

  /** Throws ShuttingDownError once a drain began: uploads go to another instance. */
  assertAccepting(): void {
    if (this.draining) throw new ShuttingDownError(5);
  }

  /** Whether the sessions and the queue are shared with other nodes (Redis). */
  get shared(): boolean {
    return this.backend !== null;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Throws RedisUnavailableError while the shared store is away: a write would wait for it (a
   * worker's events outlast a Redis restart), but a client's request is answered 503 at once.
   */
  assertReachable(): void {
    if (this.backend && !this.backend.connected()) throw new RedisUnavailableError();
  }

  /** Throws ShuttingDownError while draining, QueueFullError when a new session could not be queued now. */
  async assertRoom(): Promise<void> {
    this.assertAccepting();
    this.assertReachable();
    if (!(await this.queue.hasRoom())) throw new QueueFullError(await this.queue.retryAfterSeconds());
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
  async createFromFile(
    file: IncomingUpload,
    spec: { analysisType: AnalysisType; params: Record<string, unknown>; filename: string | null; webhook?: WebhookTarget | null },
  ): Promise<Session> {
    await this.assertRoom();
    const session = await this.store.create(spec, 'pending');
    try {
      this.uploads.adopt(file, session.id);
      this.watch(session);
      await this.scheduler.enqueue(session);
    } catch (err) {
      await this.removeQuietly(session.id);
      throw err;
    }
    this.log.info({ sessionId: session.id, analysisType: spec.analysisType, upload: 'multipart', webhook: !!spec.webhook }, 'session created');
    return session;
  }

  /**
   * Creates a session for a resumable upload: status `uploading`, its video file written in
   * place (appendUpload). Throws UploadLimitError when too many uploads are open,
   * QueueFullError when the queue is full, a StorageError when DATA_DIR cannot take it.
   */
  async createUploading(spec: {
    analysisType: AnalysisType;
    params: Record<string, unknown>;
    filename: string | null;
    uploadLength: number;
    webhook?: WebhookTarget | null;
  }): Promise<Session> {
    // the cluster's unfinished uploads with a shared store (the list's status set), else this process's
    const open = this.backend ? (await this.store.count()).uploading : this.openUploads.size;
    if (open >= this.opts.maxOpenUploads) throw new UploadLimitError(this.opts.maxOpenUploads, OPEN_UPLOADS_RETRY_SECONDS);
    await this.assertRoom();
    this.assertSpace(spec.uploadLength);
    const session = await this.store.create(spec, 'uploading');
    try {
      this.uploads.createResumable(session.id);
    } catch (err) {
      await this.removeQuietly(session.id);
      throw err;
    }
    this.trackUpload(session);
    this.watch(session);
    this.log.info({ sessionId: session.id, analysisType: spec.analysisType, upload: 'tus', uploadLength: spec.uploadLength, webhook: !!spec.webhook }, 'session created');
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

  /** Records upload progress as an `upload` event (not awaited: a lost one is superseded by the next). */
  uploadProgress(session: Session, receivedBytes: number, totalBytes: number | null): void {
    if (session.state.status !== 'uploading') return;
    session.append('upload', { receivedBytes, totalBytes }).catch((err) => this.log.warn({ err, sessionId: session.id }, 'could not store upload progress'));
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
      await session.transition('failed', { error: { code: 'unsupported_media', message: e.message ?? 'The uploaded file is not a video' } });
      return;
    }
    if (session.terminal) return; // cancelled or cleaned up while probing
    // An upload that finishes while the queue is full stays `uploading`: the caller refuses its
    // last bytes with 503, and the client sends them again later.
    await this.assertRoom();
    if (await session.transition('pending', {}, { from: 'uploading' })) await this.scheduler.enqueueRecovered(session);
  }

  get(id: string): Promise<Session | undefined> {
    return this.store.get(id);
  }

  /** A page of sessions, newest first, as status views (never their results). */
  async list(query: SessionListQuery): Promise<StatusView[]> {
    return (await this.store.list(query)).map((s) => statusView(s.state, s.meta.filename));
  }

  async status(id: string): Promise<StatusView | undefined> {
    const s = await this.store.get(id);
    if (!s) return undefined;
    const view = statusView(s.state, s.meta.filename);
    view.storage = { bytes: this.store.diskBytes(id), video: this.uploads.hasVideo(id) };
    // Redis away: the status is the node's copy, without the delivery
    if (s.meta.webhook) view.webhook = await this.webhooks.view(id).catch((err) => (err instanceof RedisUnavailableError ? undefined : Promise.reject(err)));
    return view;
  }

  /** The final result of a completed session (null if not completed). */
  async result(id: string): Promise<AnalysisResult | null> {
    const json = await this.resultJson(id);
    return json === null ? null : (JSON.parse(json) as AnalysisResult);
  }

  /** The final result as JSON text, so answers can embed it without serialising it again. */
  async resultJson(id: string): Promise<string | null> {
    const s = await this.store.get(id);
    if (!s || s.state.status !== 'completed') return null;
    let json = this.resultCache.get(id);
    if (json === undefined) {
      const text = await this.store.resultText(id);
      if (text === null) return null;
      json = text;
      if (this.resultCache.size >= VideoService.RESULT_CACHE_SIZE) this.resultCache.delete(this.resultCache.keys().next().value!);
      this.resultCache.set(id, json);
    }
    return json;
  }

  /** Idempotent for cancelled sessions; conflict for completed or failed ones. */
  async cancel(id: string): Promise<CancelOutcome> {
    this.assertReachable();
    const s = await this.store.get(id);
    if (!s) return { ok: false, reason: 'not_found' };
    if (s.state.status === 'cancelled') return { ok: true, session: s };
    if (isTerminal(s.state.status)) return { ok: false, reason: 'conflict', session: s };
    await this.scheduler.cancel(s);
    const now = s.state.status as SessionStatus; // read again: it may have ended meanwhile
    if (now !== 'cancelled' && isTerminal(now)) return { ok: false, reason: 'conflict', session: s };
    return { ok: true, session: s };
  }

  /** Stops any work, deletes files and forgets the session. */
  async cleanup(id: string): Promise<boolean> {
    this.assertReachable();
    const s = await this.store.get(id);
    if (!s) return false;
    await this.scheduler.stop(s);
    if (!s.terminal) await s.transition('cancelled');
    this.resultCache.delete(id);
    this.mediaFiles.forget(id);
    const removed = await this.store.remove(id);
    try {
      await this.webhooks.forget(id);
    } catch (err) {
      this.log.error({ err, sessionId: id }, 'could not delete the webhook delivery');
    }
    return removed;
  }

  /** Whether the service can do its work now: the engine, DATA_DIR, the shared store, the queue. */
  async health(): Promise<ServiceHealth> {
    const problems: string[] = [];
    const engine = this.engine.health();
    if (engine.state === 'degraded') problems.push(`engine: ${engine.detail ?? 'degraded'}`);
    const storage = this.uploads.checkHealth();
    if (storage.problem) problems.push(`storage: ${storage.problem}`);
    if (storage.writable) this.store.catchUp();
    if (storage.writable && this.lock && !this.lock.verify()) problems.push('storage: the DATA_DIR lock file was removed or replaced; another process may be using DATA_DIR');
    const redis = this.backend ? { connected: this.backend.connected() } : null;
    if (redis && !redis.connected) problems.push('redis: not connected; sessions, events and jobs are unavailable until it is back');
    const shared = await this.sharedCounts();
    return {
      status: problems.length ? 'degraded' : 'healthy',
      problems,
      role: this.opts.role ?? 'all',
      redis,
      engine: { ...this.engine.info, ready: engine.ready, state: engine.state, detail: engine.detail ?? null },
      storage,
      queue: { running: this.scheduler.active, queued: shared?.queued ?? null, concurrency: this.opts.concurrency, queueLimit: this.opts.queueLimit },
      openUploads: this.openUploads.size,
      sessions: shared ? Object.values(shared.byStatus).reduce((a, b) => a + b, 0) : null,
    };
  }

  async stats(): Promise<ServiceStats> {
    const shared = await this.sharedCounts();
    return {
      role: this.opts.role ?? 'all',
      redisConnected: this.backend ? this.backend.connected() : null,
      sessionsByStatus: shared?.byStatus ?? null,
      queued: shared?.queued ?? null,
      running: this.scheduler.active,
      openUploads: this.openUploads.size,
      jobs: { ...this.scheduler.stats },
      engineReady: this.engine.health().ready,
      storageWritable: this.uploads.checkHealth().writable,
    };
  }

  /**
   * Sessions by status and the queue's depth; null when the shared store cannot be reached. With
   * a shared store they are read at most once a second and answered from the last reading (so
   * /health and /metrics cost Redis nothing per probe, and answer without waiting on it: uWS
   * closes a connection whose pipelined request arrives while an earlier answer is pending).
   */
  private async sharedCounts(): Promise<SharedCounts | null> {
    if (!this.backend) return this.readCounts();
    if (!this.backend.connected()) return null;
    if (!this.counts || Date.now() - this.counts.at >= SHARED_COUNTS_MS) void this.refreshCounts();
    return this.counts?.value ?? null;
  }

  /** Reads the shared counts again (one reading at a time); start() waits for the first. */
  private refreshCounts(): Promise<void> {
    this.countsLoading ??= this.readCounts()
      .catch((err) => {
        this.log.warn({ err }, 'could not read the shared counts');
        return null;
      })
      .then((value) => {
        this.counts = { at: Date.now(), value };
        this.countsLoading = null;
      });
    return this.countsLoading;
  }

  private async readCounts(): Promise<SharedCounts | null> {
    try {
      const [byStatus, queued] = await Promise.all([this.store.count(), this.queue.depth()]);
      return { byStatus, queued };
    } catch (err) {
      if (err instanceof RedisUnavailableError) return null;
      throw err;
    }
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
  private async storageFailed(session: Session, err: StorageError): Promise<void> {
    this.log.error({ sessionId: session.id, errno: err.errno }, err.message);
    if (session.terminal || session.state.status === 'uploading' || (await this.store.get(session.id)) !== session) return;
    await this.scheduler.failStorage(session, err);
  }

  private async removeQuietly(id: string): Promise<void> {
    try {
      await this.store.remove(id);
    } catch (err) {
      this.log.error({ err, sessionId: id }, 'could not remove the session files');
    }
  }

  /** Lifecycle logs, end listeners and the webhook of a session, from its state changes. */
  private watch(session: Session): void {
    let prev: SessionStatus | null = null;
    let startedAt: number | null = null;
    session.states.subscribe((st) => {
      if (st.status === prev) return;
      prev = st.status;
      const base = { sessionId: session.id, analysisType: session.meta.analysisType };
      switch (st.status) {
        case 'pending':
          this.log.debug(base, 'session queued');
          return;
        case 'processing':
          startedAt = Date.now();
          this.log.info({ ...base, engine: this.engine.info.name }, 'session started');
          return;
        case 'completed':
          this.log.info({ ...base, durationMs: startedAt === null ? null : Date.now() - startedAt }, 'session finished');
          break;
        case 'failed':
          this.log.warn({ ...base, code: st.error?.code, error: st.error?.message }, 'session failed');
          break;
        case 'cancelled':
          this.log.info(base, 'session cancelled');
          break;
        default:
          return;
      }
      const runMs = startedAt === null ? null : Date.now() - startedAt;
      for (const l of this.endListeners) l(session, st.status, runMs);
      void this.sendWebhook(session);
    });
  }

  private async sendWebhook(session: Session): Promise<void> {
    try {
      // a session cleaned up (deleted) before it ended has nobody to tell
      if (!session.meta.webhook || (await this.store.get(session.id)) !== session) return;
      await this.webhooks.deliver(session, session.meta.webhook);
    } catch (err) {
      this.log.error({ err, sessionId: session.id }, 'could not record the webhook delivery');
    }
  }

  /** Resolves with the session's terminal state. */
  waitForEnd(session: Session): Promise<SessionState> {
    if (session.terminal) return Promise.resolve(session.state);
    return firstValueFrom(session.states.pipe(filter((st) => isTerminal(st.status))));
  }

  /**
   * Deletes expired sessions; one that cannot be deleted now is tried again at the next sweep.
   * With several nodes, one of them sweeps at a time. Resolves with how many expired.
   */
  async sweep(now = Date.now()): Promise<number> {
    let count = 0;
    try {
      await this.clusterLock.tryRun('sweep', 60_000, async () => {
        count = await this.sweepNow(now);
      });
    } catch (err) {
      this.log.warn({ err }, 'the expiry sweep could not run; it runs again at the next interval');
    }
    return count;
  }

  private async sweepNow(now: number): Promise<number> {
    this.store.catchUp();
    const expired = await this.store.expired(now, this.opts.ttlMs);
    for (const id of expired) {
      try {
        await this.cleanup(id);
        this.log.info({ sessionId: id }, 'session expired (SESSION_TTL)');
      } catch (err) {
        this.log.error({ err, sessionId: id }, 'session expiry failed');
      }
    }
    if (this.opts.videoTtlMs != null) {
      for (const id of await this.store.expired(now, this.opts.videoTtlMs)) {
        if (!this.uploads.hasVideo(id)) continue;
        const s = await this.store.get(id);
        if (!s?.terminal) continue;
        try {
          this.uploads.removeVideo(id);
          this.log.info({ sessionId: id }, 'video deleted (VIDEO_TTL)');
        } catch (err) {
          this.log.error({ err, sessionId: id }, 'video deletion failed');
        }
      }
    }
    return expired.length;
  }

  /**
   * The first half of a graceful stop: refuses new uploads (ShuttingDownError), starts no queued
   * job, and waits up to `graceMs` for the running analyses to finish. Resolves with how many
   * are still running (shutdown() then stops them).
   */
  async drain(graceMs: number): Promise<number> {
    this.draining = true;
    this.scheduler.pause();
    const running = this.scheduler.active;
    if (running) this.log.info({ running, graceMs }, 'draining: waiting for running analyses');
    await this.scheduler.idle(graceMs);
    return this.scheduler.active;
  }

  /**
   * Stops everything and flushes the journal. Analyses still running are stopped without a
   * terminal event: their journals say `processing`, and the next start deals with them (a
   * shared queue gives them to another worker at once).
   */
  async shutdown(): Promise<void> {
    this.draining = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of await this.scheduler.shutdown()) this.log.warn({ sessionId: s.id }, 'analysis stopped by the shutdown');
    this.webhooks.stop();
    await this.queue.close().catch((err) => this.log.warn({ err }, 'could not close the job queue'));
    await this.store.close().catch((err) => this.log.warn({ err }, 'could not close the session store'));
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
