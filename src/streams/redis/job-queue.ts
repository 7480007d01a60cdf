// The cluster's job queue: a Redis Stream `jobs` read by the consumer group `workers`, one
// consumer per node. A job taken is an entry pending for its node; the holder renews it (XCLAIM
// JUSTID resets its idle time) and a job whose holder was silent for JOB_LEASE is claimed by the
// next take (XAUTOCLAIM) on any node. Every step that reads and then writes is one Lua script, so
// two nodes never take, renew or cancel the same entry at once. Cancel and "a job is ready" go
// over pub/sub; workers also look for expired leases every JOB_LEASE/4.
import type { Redis } from 'ioredis';
import { QueueFullError, RedisUnavailableError } from '../errors.js';
import type { JobLease, JobQueue } from '../job-queue.js';
import { guard, type RedisConnection, type ScriptFn } from './connection.js';

export interface RedisJobQueueOptions {
  /** This node's consumer name (unique in the cluster). */
  nodeId: string;
  /** Jobs this node runs at once; 0 for nodes that run none (ROLE=api). */
  concurrency: number;
  /** Jobs that may wait in the cluster beyond the free slots of live workers. */
  queueLimit: number;
  jobLeaseMs: number;
}

interface RedisJobLease extends JobLease {
  readonly entryId: string;
}

const GROUP = 'workers';
/** Idle time given to a released entry: far beyond any lease, so the next take claims it first. */
const RELEASED_IDLE_MS = 10_000_000_000;

// Shared Lua: the group exists (also after a Redis that lost its data), Redis's clock, counts.
const LIB = `
local function ensureGroup(jobs) redis.pcall('XGROUP', 'CREATE', jobs, '${GROUP}', '0', 'MKSTREAM') end
local function nowMs() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
local function pendingCount(jobs) return tonumber(redis.call('XPENDING', jobs, '${GROUP}')[1]) end
local function slots(workers, slotsKey, now)
  local total = 0
  for _, n in ipairs(redis.call('ZRANGEBYSCORE', workers, now, '+inf')) do total = total + (tonumber(redis.call('HGET', slotsKey, n)) or 0) end
  return total
end
local function holds(jobs, consumer, id)
  return #redis.call('XPENDING', jobs, '${GROUP}', id, id, 1, consumer) == 1
end
`;

// KEYS jobs ids workers slots; ARGV sessionId limit(-1: none) readyChannel
const ENQUEUE = `${LIB}
ensureGroup(KEYS[1])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 1 end
local limit = tonumber(ARGV[2])
if limit >= 0 then
  local pending = pendingCount(KEYS[1])
  local waiting = redis.call('XLEN', KEYS[1]) - pending
  local free = math.max(0, slots(KEYS[3], KEYS[4], nowMs()) - pending)
  if waiting >= limit + free then return 0 end
end
local id = redis.call('XADD', KEYS[1], '*', 'sid', ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('PUBLISH', ARGV[3], '1')
return 1`;

// KEYS jobs ids started; ARGV consumer minIdleMs. Returns {entryId, sessionId, deliveries} or false.
const TAKE = `${LIB}
ensureGroup(KEYS[1])
local consumer = ARGV[1]
local function lease(id, sid)
  if redis.call('HGET', KEYS[2], sid) ~= id then
    redis.call('XACK', KEYS[1], '${GROUP}', id)
    redis.call('XDEL', KEYS[1], id)
    return nil
  end
  local p = redis.call('XPENDING', KEYS[1], '${GROUP}', id, id, 1)
  redis.call('HSET', KEYS[3], sid, nowMs())
  return {id, sid, tonumber(p[1][4])}
end
local cursor = '0-0'
for _ = 1, 100 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], '${GROUP}', consumer, ARGV[2], cursor, 'COUNT', 1)
  for _, e in ipairs(r[2]) do
    if e[2] then
      local got = lease(e[1], e[2][2])
      if got then return got end
    end
  end
  cursor = r[1]
  if cursor == '0-0' then break end
end
for _ = 1, 100 do
  local r = redis.call('XREADGROUP', 'GROUP', '${GROUP}', consumer, 'COUNT', 1, 'STREAMS', KEYS[1], '>')
  if not r then return false end
  local e = r[1][2][1]
  local got = lease(e[1], e[2][2])
  if got then return got end
end
return false`;

// KEYS jobs ids; ARGV consumer entryId sessionId
const RENEW = `${LIB}
if redis.call('HGET', KEYS[2], ARGV[3]) ~= ARGV[2] or not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
redis.call('XCLAIM', KEYS[1], '${GROUP}', ARGV[1], 0, ARGV[2], 'JUSTID')
return 1`;

// KEYS jobs ids started stats; ARGV consumer entryId sessionId runMs
const COMPLETE = `${LIB}
if redis.call('HGET', KEYS[2], ARGV[3]) ~= ARGV[2] or not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
redis.call('XACK', KEYS[1], '${GROUP}', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
local mean = tonumber(redis.call('HGET', KEYS[4], 'meanRunMs'))
local run = tonumber(ARGV[4])
redis.call('HSET', KEYS[4], 'meanRunMs', mean and (0.8 * mean + 0.2 * run) or run)
return 1`;

// KEYS jobs ids started; ARGV consumer entryId sessionId readyChannel
const RELEASE = `${LIB}
if redis.call('HGET', KEYS[2], ARGV[3]) ~= ARGV[2] or not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
redis.call('XCLAIM', KEYS[1], '${GROUP}', ARGV[1], 0, ARGV[2], 'IDLE', ${RELEASED_IDLE_MS}, 'JUSTID')
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('PUBLISH', ARGV[4], '1')
return 1`;

// KEYS jobs ids started; ARGV sessionId cancelChannel
const CANCEL = `
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return 0 end
redis.call('XACK', KEYS[1], '${GROUP}', id)
redis.call('XDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1`;

// KEYS jobs workers slots started stats. Returns {waiting, pending, slots, meanRunMs|-1, oldestStart|-1, now}.
const STATS = `${LIB}
ensureGroup(KEYS[1])
local now = nowMs()
local pending = pendingCount(KEYS[1])
local oldest = -1
for i, v in ipairs(redis.call('HVALS', KEYS[4])) do
  local t = tonumber(v)
  if oldest < 0 or t < oldest then oldest = t end
end
local mean = tonumber(redis.call('HGET', KEYS[5], 'meanRunMs')) or -1
return {redis.call('XLEN', KEYS[1]) - pending, pending, slots(KEYS[2], KEYS[3], now), math.floor(mean), oldest, now}`;

// KEYS workers slots; ARGV nodeId concurrency ttlMs (0: leave)
const HEARTBEAT = `${LIB}
local now = nowMs()
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)) do redis.call('HDEL', KEYS[2], n) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if tonumber(ARGV[3]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return 1`;

export class RedisJobQueue implements JobQueue {
  private readonly leases = new Map<string, RedisJobLease>();
  private readonly cancelListeners: Array<(id: string) => void> = [];
  private readonly readyListeners: Array<() => void> = [];
  private readonly keys: { jobs: string; ids: string; started: string; stats: string; workers: string; slots: string };
  private readonly channels: { cancel: string; ready: string };
  private readonly scripts: Record<'enqueue' | 'take' | 'renew' | 'complete' | 'release' | 'cancel' | 'stats' | 'heartbeat', ScriptFn>;
  private readonly subscriber: Redis;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly offConnected: () => void;
  /** Completions Redis was away for, sent when it is back (else the job would count as running until its lease ran out). */
  private readonly unsentCompletions: Array<() => Promise<unknown>> = [];
  private sendingCompletions = false;
  private closed = false;
  /** Resolves once this node hears cancels and ready signals (a cancel sent before is not heard). */
  readonly listening: Promise<void>;

  constructor(
    private readonly conn: RedisConnection,
    private readonly opts: RedisJobQueueOptions,
  ) {
    const k = (name: string) => conn.key(name);
    this.keys = { jobs: k('jobs'), ids: k('jobs:ids'), started: k('jobs:started'), stats: k('jobs:stats'), workers: k('workers'), slots: k('workers:slots') };
    this.channels = { cancel: k('cancel'), ready: k('ready') };
    this.scripts = {
      enqueue: conn.script('vasJobEnqueue', 4, ENQUEUE),
      take: conn.script('vasJobTake', 3, TAKE),
      renew: conn.script('vasJobRenew', 2, RENEW),
      complete: conn.script('vasJobComplete', 4, COMPLETE),
      release: conn.script('vasJobRelease', 3, RELEASE),
      cancel: conn.script('vasJobCancel', 3, CANCEL),
      stats: conn.script('vasJobStats', 5, STATS),
      heartbeat: conn.script('vasJobHeartbeat', 2, HEARTBEAT),
    };
    this.subscriber = conn.duplicate('vas-jobs-events');
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channels.cancel) this.cancelled(message);
      else if (channel === this.channels.ready) this.ready();
    });
    let heard!: () => void;
    this.listening = new Promise((resolve) => (heard = resolve));
    let subscribed = false;
    const subscribe = () => {
      if (subscribed) return; // ioredis subscribes again by itself after a reconnect
      this.subscriber.subscribe(this.channels.cancel, this.channels.ready).then(() => {
        subscribed = true;
        heard();
      }, () => {}); // not connected: tried again on 'ready'
    };
    this.subscriber.on('ready', subscribe);
    subscribe();
    this.offConnected = conn.onConnectedChange((up) => {
      if (!up) return;
      void this.sendCompletions();
      // Messages sent while this node was cut off are lost: look again.
      if (this.opts.concurrency > 0) void this.heartbeat();
      this.ready();
    });
    if (opts.concurrency > 0) {
      void this.heartbeat();
      this.every(opts.jobLeaseMs / 3, () => void this.heartbeat());
      this.every(opts.jobLeaseMs / 4, () => void this.announceExpiredLeases());
    }
  }

  get leased(): number {
    return this.leases.size;
  }

  /** Queues a job (once: a session already queued or running stays as it is). Throws QueueFullError, RedisUnavailableError. */
  async enqueue(sessionId: string, opts: { limit?: boolean } = {}): Promise<void> {
    const limit = opts.limit === false ? -1 : this.opts.queueLimit;
    const ok = await guard(this.scripts.enqueue([this.keys.jobs, this.keys.ids, this.keys.workers, this.keys.slots], [sessionId, limit, this.channels.ready]));
    if (ok !== 1) throw new QueueFullError(await this.retryAfterSeconds());
  }

  /** Whether the cluster could queue one more job: waiting jobs below QUEUE_LIMIT plus the free slots of live workers. */
  async hasRoom(): Promise<boolean> {
    const s = await this.stats();
    return s.waiting < this.opts.queueLimit + Math.max(0, s.slots - s.pending);
  }

  /** Jobs waiting in the cluster (not taken by a worker). */
  async depth(): Promise<number> {
    return (await this.stats()).waiting;
  }

  /**
   * The queue ahead in waves of the cluster's worker slots, each as long as the mean run measured
   * in the cluster; before any job finished, as long as the oldest running job has run (at least a second).
   */
  async retryAfterSeconds(): Promise<number> {
    const s = await this.stats();
    const waves = Math.ceil((s.waiting + 1) / Math.max(1, s.slots));
    const runMs = s.meanRunMs >= 0 ? s.meanRunMs : Math.max(1000, s.oldestStart >= 0 ? s.now - s.oldestStart : 0);
    return Math.max(1, Math.min(600, Math.round((waves * runMs) / 1000)));
  }

  /** The next job for this node: one whose holder was silent for JOB_LEASE first, else the oldest waiting. */
  async take(): Promise<JobLease | null> {
    const got = (await guard(this.scripts.take([this.keys.jobs, this.keys.ids, this.keys.started], [this.opts.nodeId, this.opts.jobLeaseMs]))) as
      | [string, string, number]
      | null;
    if (!got) return null;
    const [entryId, sessionId, deliveries] = got;
    const lease: RedisJobLease = { sessionId, attempt: Number(deliveries), entryId };
    this.leases.set(sessionId, lease);
    return lease;
  }

  /** Keeps the lease for another JOB_LEASE; false once it was cancelled or taken over. Rejects with RedisUnavailableError while Redis is away. */
  async renew(lease: JobLease): Promise<boolean> {
    if (!this.holds(lease)) return false;
    const ok = (await guard(this.scripts.renew([this.keys.jobs, this.keys.ids], this.leaseArgs(lease)))) === 1;
    if (!ok) this.drop(lease);
    return ok && this.holds(lease);
  }

  /**
   * The job is done. With Redis away it is completed when Redis is back (the script checks that
   * this node still holds it: after a take-over it does nothing).
   */
  async complete(lease: JobLease, runMs: number): Promise<void> {
    if (!this.drop(lease)) return;
    const send = () => guard(this.scripts.complete([this.keys.jobs, this.keys.ids, this.keys.started, this.keys.stats], [...this.leaseArgs(lease), Math.max(0, Math.round(runMs))]));
    await send().catch((err) => {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.unsentCompletions.push(send);
    });
  }

  /** Gives the job back (shutdown): the next take on any node claims it. */
  async release(lease: JobLease): Promise<void> {
    if (!this.drop(lease)) return;
    await guard(this.scripts.release([this.keys.jobs, this.keys.ids, this.keys.started], [...this.leaseArgs(lease), this.channels.ready]));
  }

  /** Removes a job, waiting or running; its holder, on whichever node, is told through onCancel. */
  async cancel(sessionId: string): Promise<void> {
    await guard(this.scripts.cancel([this.keys.jobs, this.keys.ids, this.keys.started], [sessionId, this.channels.cancel]));
    this.cancelled(sessionId);
  }

  onCancel(listener: (sessionId: string) => void): void {
    this.cancelListeners.push(listener);
  }

  /** Called when a job may be ready to take: one was queued or released anywhere, a lease expired, Redis came back. */
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  /** Stops listening and leaves the worker registry; leases held stay until they expire or are released. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.offConnected();
    if (this.opts.concurrency > 0) await this.scripts.heartbeat([this.keys.workers, this.keys.slots], [this.opts.nodeId, 0, 0]).catch(() => {});
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private async stats() {
    const r = (await guard(
      this.scripts.stats([this.keys.jobs, this.keys.workers, this.keys.slots, this.keys.started, this.keys.stats], []),
    )) as number[];
    const [waiting, pending, slots, meanRunMs, oldestStart, now] = r.map(Number);
    return { waiting, pending, slots, meanRunMs, oldestStart, now };
  }

  /** Tells the cluster this worker is alive and how many slots it has (for the queue's room). */
  private heartbeat(): Promise<unknown> {
    // a completion refused while the connection stayed up (LOADING, BUSY) is not sent on a reconnect
    void this.sendCompletions();
    return this.scripts
      .heartbeat([this.keys.workers, this.keys.slots], [this.opts.nodeId, this.opts.concurrency, this.opts.jobLeaseMs])
      .catch(() => {}); // Redis away: sent again on the next beat and on reconnect
  }

  private async sendCompletions(): Promise<void> {
    if (this.sendingCompletions) return;
    this.sendingCompletions = true;
    try {
      while (this.unsentCompletions.length && !this.closed) {
        try {
          await this.unsentCompletions[0]();
        } catch (err) {
          if (err instanceof RedisUnavailableError) return; // away again: sent at the next reconnect
          // refused: nothing to send again
        }
        this.unsentCompletions.shift();
      }
    } finally {
      this.sendingCompletions = false;
    }
  }

  private async announceExpiredLeases(): Promise<void> {
    if (this.leases.size >= this.opts.concurrency) return;
    const idle = await this.conn.client
      .xpending(this.keys.jobs, GROUP, 'IDLE', this.opts.jobLeaseMs, '-', '+', 1)
      .catch(() => []); // no group yet, or Redis away
    if ((idle as unknown[]).length > 0) this.ready();
  }

  private leaseArgs(lease: JobLease): string[] {
    return [this.opts.nodeId, (lease as RedisJobLease).entryId, lease.sessionId];
  }

  private holds(lease: JobLease): boolean {
    return this.leases.get(lease.sessionId) === lease;
  }

  private drop(lease: JobLease): boolean {
    if (!this.holds(lease)) return false;
    this.leases.delete(lease.sessionId);
    return true;
  }

  private cancelled(sessionId: string): void {
    const lease = this.leases.get(sessionId);
    if (lease && this.drop(lease)) for (const l of this.cancelListeners) l(sessionId);
  }

  private ready(): void {
    if (this.closed) return;
    for (const l of this.readyListeners) l();
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, Math.max(50, ms));
    t.unref();
    this.timers.push(t);
  }
}
