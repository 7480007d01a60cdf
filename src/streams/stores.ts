// The boundaries the service's state goes through, so that a second implementation (a shared
// store for several nodes) can stand in for today's: sessions and their event logs
// (JournalSessionStore: JSONL journals under DATA_DIR), uploads (FileUploadStore: files under
// DATA_DIR) and the job queue (job-queue.ts: LocalJobQueue).
import { nanoid } from 'nanoid';
import type { FileWriter } from './file-writer.js';
import type { AnalysisKind, SessionMeta, SessionStatus, WebhookTarget } from './events.js';
import type { Session } from './session.js';
import type { StorageError } from './storage.js';

export interface NewSession {
  analysisType: AnalysisKind;
  params: Record<string, unknown>;
  filename: string | null;
  uploadLength?: number | null;
  /** Use this id (e.g. generated before the upload finished); defaults to a new nanoid. */
  sessionId?: string;
  /** Where the terminal event is POSTed, if anywhere. */
  webhook?: WebhookTarget | null;
}

/** The metadata of a new session (a new nanoid unless the spec names its id), created now. */
export function sessionMeta(spec: NewSession): SessionMeta {
  return {
    sessionId: spec.sessionId ?? nanoid(),
    analysisType: spec.analysisType,
    params: spec.params,
    createdAt: new Date().toISOString(),
    filename: spec.filename,
    uploadLength: spec.uploadLength ?? null,
    ...(spec.webhook ? { webhook: spec.webhook } : {}),
  };
}

export interface RecoveryReport {
  restored: number;
  /** Sessions to queue again: those that were processing when the process died (first), then those that never started. */
  requeue: Session[];
  /** How many of requeue were processing when the process died (they are run again). */
  resumed: number;
  /** Resumable uploads still in progress. */
  uploading: Session[];
  /** Every session loaded (their webhooks and lifecycle logs are resumed); a shared store loads none at start. */
  sessions: Session[];
}

/** A page of the sessions list: newest first (createdAt, then id, descending). */
export interface SessionListQuery {
  status?: SessionStatus;
  /** Only sessions after this one in the list's order (the previous page's last). */
  after?: { createdAt: string; sessionId: string };
  limit: number;
}

/**
 * Sessions and their append-only event logs. A Session appends, replays (history from a seq) and
 * follows live (eventsSince); the store persists every event before followers see it. In a
 * shared store (several nodes) the calls that reach it may fail with RedisUnavailableError.
 */
export interface SessionStore {
  /** Creates a session whose log starts with its status. Throws a StorageError. */
  create(spec: NewSession, status: SessionStatus): Promise<Session>;
  /** The session, loaded (and followed) if this process does not hold it yet. */
  get(id: string): Promise<Session | undefined>;
  /** Up to `limit` sessions in the list's order (newest first). */
  list(query: SessionListQuery): Promise<Session[]>;
  /** Sessions by status (for /health and /metrics). */
  count(): Promise<Record<SessionStatus, number>>;
  /** Deletes the session's files and forgets it. Throws a StorageError (and keeps it) when the files stay. */
  remove(id: string): Promise<boolean>;
  /** Stores the final result, before the `completed` event. Throws a StorageError. */
  writeResult(id: string, result: unknown): Promise<void>;
  /** The stored result as JSON text, or null. */
  resultText(id: string): Promise<string | null>;
  /** Loads what was stored, after a start. */
  recover(): Promise<RecoveryReport>;
  /**
   * Brings a session this node holds up to date with its log before a decision that depends on
   * it (taking a job over): a shared store's replica may lag what other nodes appended (its reader
   * catching up after an outage). The journal's sessions are the log. Throws RedisUnavailableError.
   */
  refresh(session: Session): Promise<void>;
  /** Ids of the sessions whose last activity is older than ttlMs. */
  expired(now: number, ttlMs: number): Promise<string[]>;
  close(): Promise<void>;
  /** Stores what could not be stored earlier (events missed while the disk was full). */
  catchUp(): void;
  /** Bytes the session's files take on disk (journal, result, video). */
  diskBytes(id: string): number;
  /** Told (on a later turn) that an event could not be stored; it is stored later if possible (catchUp). */
  onPersistFailure: (session: Session, err: StorageError) => void;
}

/** The lock of one tus upload, held for one request. */
export interface UploadLock {
  /** Tells the lock its holder is alive; false once it was taken over (stop writing). */
  refresh(): Promise<boolean>;
  release(): Promise<void>;
}

export interface UploadLocks {
  /**
   * Takes the upload's lock for one request; null while another request holds it and is alive.
   * A lock whose holder went silent for `staleMs` (dropped connection, dead node) is taken over.
   */
  acquire(uploadId: string): Promise<UploadLock | null>;
}

/** Work that runs once for the whole deployment at a time (the expiry sweep). */
export interface ClusterLock {
  /** Runs `fn` unless another process holds `name` (held for at most ttlMs); resolves whether it ran. */
  tryRun(name: string, ttlMs: number, fn: () => Promise<void>): Promise<boolean>;
}

/** A multipart upload being received. */
export interface IncomingUpload {
  readonly writer: FileWriter;
  /** For the engine's probe; never shown to clients. */
  readonly path: string;
  /** Stops writing and deletes what was written. Never rejects. */
  discard(): Promise<void>;
}

export interface StorageHealth {
  writable: boolean;
  freeBytes: number | null;
  /** Why it is not healthy, for /health. */
  problem: string | null;
  /** Why it is not writable. */
  error: StorageError | null;
}

/** Every file of an upload. Failures are StorageErrors, whose messages never carry a path. */
export interface UploadStore {
  /** Starts receiving a multipart upload. */
  receive(): IncomingUpload;
  /** Moves a fully received upload into its session. */
  adopt(incoming: IncomingUpload, sessionId: string): void;
  /** Creates the empty file of a resumable upload. */
  createResumable(sessionId: string): void;
  /** Bytes of a resumable upload stored so far. */
  offset(sessionId: string): number;
  /** A writer that continues a resumable upload at `offset`. */
  appendAt(sessionId: string, offset: number): FileWriter;
  /** Cuts a resumable upload back to `length` bytes. */
  truncate(sessionId: string, length: number): void;
  hasVideo(sessionId: string): boolean;
  /** Deletes a session's video (retention), keeping its journal and results. Throws a StorageError. */
  removeVideo(sessionId: string): void;
  /** The video of a session, for the engine. */
  videoPath(sessionId: string): string;
  /** Removes leftovers of uploads in flight when the process died. */
  clearIncoming(): void;
  /** Whether uploads can be stored now. */
  checkHealth(now?: number): StorageHealth;
}

/** A webhook delivery as stored: everything needed to send it again after a restart. */
export interface WebhookDelivery {
  /** Stable across retries and restarts: receivers de-duplicate on it. */
  id: string;
  sessionId: string;
  url: string;
  /** The JSON body, fixed when the session ended. */
  body: string;
  /** ms since the epoch: retries stop once this is older than the maximum age. */
  createdAt: number;
  attempts: number;
  state: 'pending' | 'delivered' | 'failed';
  nextAttemptAt: number | null;
  lastAttempt: { at: string; statusCode: number | null; error: string | null } | null;
}

/**
 * Webhook deliveries, one per session. Failures are StorageErrors (journal) or
 * RedisUnavailableError (shared store).
 */
export interface WebhookStore {
  /** Stores a new delivery unless the session has one already (false then). */
  create(delivery: WebhookDelivery): Promise<boolean>;
  save(delivery: WebhookDelivery): Promise<void>;
  get(sessionId: string): Promise<WebhookDelivery | null>;
  remove(sessionId: string): Promise<void>;
}

/**
 * When each stored delivery is due. The journal's keeps timers in this process; the shared one
 * keeps due times in Redis, and each due delivery is claimed by one node at a time, for a lease.
 */
export interface WebhookSchedule {
  /** From now on runs `attempt` for each delivery when it is due, first those due already. */
  start(attempt: (sessionId: string) => Promise<void>): void;
  /** A delivery just created is due now (unless it is due already: another node may hold it). */
  first(sessionId: string): Promise<void>;
  /** The next attempt is due at `at` (ms since the epoch). */
  at(sessionId: string, at: number): Promise<void>;
  /** Not due any more: delivered, given up or gone. */
  clear(sessionId: string): Promise<void>;
  stop(): void;
}
