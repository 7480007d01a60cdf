// The queue of analyses waiting for an engine slot, as the runner (scheduler.ts) sees it: jobs
// are taken with a lease, completed or released, and cancelled from wherever the cancel came in.
// LocalJobQueue is the single-process implementation: a FIFO in memory (the journal is what
// survives a restart: recovery queues again what was pending).
import { QueueFullError } from './errors.js';

export interface JobLease {
  readonly sessionId: string;
  /** 1 for the first run of a job, more when it was released and taken again. */
  readonly attempt: number;
}

export interface JobQueue {
  /** Queues a job; throws QueueFullError when there is no room (unless `limit: false`, for jobs accepted earlier). */
  enqueue(sessionId: string, opts?: { limit?: boolean }): Promise<void>;
  /** Whether one more job could be queued now. */
  hasRoom(): Promise<boolean>;
  /** Seconds until a slot is likely to be free, for Retry-After. */
  retryAfterSeconds(now?: number): Promise<number>;
  /** The next job, leased to the caller, or null when none waits. */
  take(): Promise<JobLease | null>;
  /** Keeps the lease; false once it is not the caller's any more (cancelled, or taken over elsewhere). */
  renew(lease: JobLease): Promise<boolean>;
  /** The job ran to its end (whatever its outcome), in `runMs`. */
  complete(lease: JobLease, runMs: number): Promise<void>;
  /** Gives the job back: it is the next one taken. */
  release(lease: JobLease): Promise<void>;
  /** Removes a job, queued or leased; the holder of a lease is told through onCancel. */
  cancel(sessionId: string): Promise<void>;
  onCancel(listener: (sessionId: string) => void): void;
  /** Called when a job was queued (runners take it). */
  onReady(listener: () => void): void;
  /** Jobs waiting (in a shared queue: in the whole cluster). */
  depth(): Promise<number>;
  /** Jobs leased to this process. */
  readonly leased: number;
  close(): Promise<void>;
}

export interface LocalJobQueueOptions {
  /** Jobs run at once (free slots count as room in the queue). */
  concurrency: number;
  /** Jobs that may wait beyond the free slots. */
  queueLimit: number;
}

export class LocalJobQueue implements JobQueue {
  private readonly waiting: Array<{ sessionId: string; attempt: number }> = [];
  private readonly leases = new Map<string, JobLease>();
  /** Moving mean of run times, for Retry-After; null until a job finished. */
  private meanRunMs: number | null = null;
  /** When each leased job was taken (for Retry-After before any job finished). */
  private readonly takenAt = new Map<string, number>();
  private readonly cancelListeners: Array<(id: string) => void> = [];
  private readonly readyListeners: Array<() => void> = [];

  constructor(private readonly opts: LocalJobQueueOptions) {}

  async depth(): Promise<number> {
    return this.waiting.length;
  }

  get leased(): number {
    return this.leases.size;
  }

  async hasRoom(): Promise<boolean> {
    return this.roomNow();
  }

  private roomNow(): boolean {
    const freeSlots = Math.max(0, this.opts.concurrency - this.leases.size);
    return this.waiting.length < this.opts.queueLimit + freeSlots;
  }

  /**
   * The queue ahead in waves of `concurrency`, each as long as the measured mean run; before any
   * job finished, as long as the oldest running job has run (at least a second).
   */
  async retryAfterSeconds(now = Date.now()): Promise<number> {
    return this.retryAfterNow(now);
  }

  private retryAfterNow(now = Date.now()): number {
    const waves = Math.ceil((this.waiting.length + 1) / Math.max(1, this.opts.concurrency));
    const runMs = this.meanRunMs ?? Math.max(1000, ...[...this.takenAt.values()].map((t) => now - t));
    return Math.max(1, Math.min(600, Math.round((waves * runMs) / 1000)));
  }

  async enqueue(sessionId: string, opts: { limit?: boolean } = {}): Promise<void> {
    if (opts.limit !== false && !this.roomNow()) throw new QueueFullError(this.retryAfterNow());
    this.waiting.push({ sessionId, attempt: 1 });
    for (const l of this.readyListeners) l();
  }

  async take(): Promise<JobLease | null> {
    const next = this.waiting.shift();
    if (!next) return null;
    const lease: JobLease = { sessionId: next.sessionId, attempt: next.attempt };
    this.leases.set(next.sessionId, lease);
    this.takenAt.set(next.sessionId, Date.now());
    return lease;
  }

  async renew(lease: JobLease): Promise<boolean> {
    return this.leases.get(lease.sessionId) === lease;
  }

  async complete(lease: JobLease, runMs: number): Promise<void> {
    if (!this.drop(lease)) return;
    this.meanRunMs = this.meanRunMs === null ? runMs : 0.8 * this.meanRunMs + 0.2 * runMs;
  }

  async release(lease: JobLease): Promise<void> {
    if (this.drop(lease)) this.waiting.unshift({ sessionId: lease.sessionId, attempt: lease.attempt + 1 });
  }

  async cancel(sessionId: string): Promise<void> {
    const i = this.waiting.findIndex((j) => j.sessionId === sessionId);
    if (i >= 0) this.waiting.splice(i, 1);
    const lease = this.leases.get(sessionId);
    if (lease && this.drop(lease)) for (const l of this.cancelListeners) l(sessionId);
  }

  onCancel(listener: (sessionId: string) => void): void {
    this.cancelListeners.push(listener);
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  async close(): Promise<void> {}

  private drop(lease: JobLease): boolean {
    if (this.leases.get(lease.sessionId) !== lease) return false;
    this.leases.delete(lease.sessionId);
    this.takenAt.delete(lease.sessionId);
    return true;
  }
}
