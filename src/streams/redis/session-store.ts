// Sessions in Redis, shared by every node: per session a hash `s:{id}` (meta, status, lastSeq,
// updatedAt, whether the log is closed) and a stream `s:{id}:log` whose entry `0-{seq}` is the
// event of that seq; lex-ordered sets of `{createdAt}|{id}` for the list (all, and one per
// status), a set by updatedAt for expiry, the result in `s:{id}:result`. Files stay under the
// shared DATA_DIR (the journal's folder layout, which also holds the video and media).
//
// A node keeps one replica (RedisSession) per session it was asked for, fed by its one log
// reader (log-reader.ts) until the log ends; a session removed on any node is forgotten on all
// (pub/sub).
import type { Redis } from 'ioredis';
import type { SessionEvent, SessionMeta, SessionStatus } from '../events.js';
import { RedisUnavailableError } from '../errors.js';
import { Journal } from '../journal.js';
import { DataLayout } from '../layout.js';
import type { Session } from '../session.js';
import { isSessionId } from '../store.js';
import { sessionMeta, type NewSession, type RecoveryReport, type SessionListQuery, type SessionStore } from '../stores.js';
import { guard, type RedisConnection, type ScriptFn } from './connection.js';
import { LogReader } from './log-reader.js';
import { webhooksDueKey } from './webhook-store.js';
import { APPEND_LUA, RedisSession, STATUSES, type SessionLink } from './redis-session.js';

export interface RedisSessionStoreOptions {
  nodeId: string;
  dataDir: string;
  /** How long a write waits for Redis to come back before it fails (a worker's events outlast a restart). */
  retryWindowMs: number;
  /** Ended sessions kept in memory on this node (the live ones are always kept). */
  cachedEnded?: number;
}

// KEYS hash log updated all statusSet; ARGV id meta status member createdMs at statusDataJSON
//   webhook ('1': the session has one, its end is marked for the webhook senders)
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'status', ARGV[3], 'member', ARGV[4], 'lastSeq', 1, 'closed', '0', 'updatedAt', ARGV[5], 'webhook', ARGV[8])
redis.call('XADD', KEYS[2], '0-1', 'e', '{"seq":1,"type":"status","data":' .. ARGV[7] .. ',"at":"' .. ARGV[6] .. '"}')
redis.call('ZADD', KEYS[4], 0, ARGV[4])
redis.call('ZADD', KEYS[5], 0, ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1`;

// KEYS hash log writes result updated all, then the status sets; ARGV id
const REMOVE_LUA = `
local member = redis.call('HGET', KEYS[1], 'member')
if not member then return 0 end
for i = 6, #KEYS do redis.call('ZREM', KEYS[i], member) end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1`;

const listMember = (createdAt: string, id: string) => `${createdAt}|${id}`;

export class RedisSessionStore implements SessionStore {
  private readonly sessions = new Map<string, RedisSession>();
  private readonly loading = new Map<string, Promise<RedisSession | undefined>>();
  private readonly reader: LogReader;
  private readonly files: Journal;
  private readonly link: SessionLink;
  private readonly createScript: ScriptFn;
  private readonly removeScript: ScriptFn;
  private readonly subscriber: Redis;
  private readonly removedChannel: string;
  private readonly cachedEnded: number;
  private readonly retryWindowMs: number;
  /** Resolves once this node hears of sessions removed elsewhere. */
  readonly listening: Promise<void>;
  onPersistFailure: SessionStore['onPersistFailure'] = () => {};

  constructor(
    private readonly conn: RedisConnection,
    opts: RedisSessionStoreOptions,
  ) {
    this.files = new Journal(new DataLayout(opts.dataDir));
    this.cachedEnded = opts.cachedEnded ?? 1000;
    this.retryWindowMs = opts.retryWindowMs;
    this.link = {
      conn,
      append: conn.script('vasSessionAppend', 5 + STATUSES.length, APPEND_LUA),
      keys: (id) => [this.key(id), this.logKey(id), this.updatedKey, this.key(id, 'w'), ...STATUSES.map((s) => this.statusKey(s)), this.webhooksDueKey],
      nodeId: opts.nodeId,
      retryWindowMs: opts.retryWindowMs,
    };
    this.createScript = conn.script('vasSessionCreate', 5, CREATE_LUA);
    this.removeScript = conn.script('vasSessionRemove', 6 + STATUSES.length, REMOVE_LUA);
    this.reader = new LogReader(conn, (id) => this.logKey(id), opts.nodeId);
    this.removedChannel = conn.key('removed');
    this.subscriber = conn.duplicate('vas-sessions-events');
    this.subscriber.on('message', (_channel: string, id: string) => this.forget(id));
    let heard!: () => void;
    this.listening = new Promise((resolve) => (heard = resolve));
    let subscribed = false;
    const subscribe = () => {
      if (subscribed) return; // ioredis subscribes again by itself after a reconnect
      this.subscriber.subscribe(this.removedChannel).then(() => {
        subscribed = true;
        heard();
      }, () => {}); // not connected: tried again on 'ready'
    };
    this.subscriber.on('ready', subscribe);
    subscribe();
  }

  /** Sessions this node follows live (for tests and metrics). */
  get following(): number {
    return this.reader.size;
  }

  async create(spec: NewSession, status: SessionStatus): Promise<Session> {
    const meta = sessionMeta(spec);
    const id = meta.sessionId;
    this.files.create(meta); // the session's folder on the shared DATA_DIR (video, media)
    const first: SessionEvent = { seq: 1, type: 'status', data: { status }, at: meta.createdAt };
    try {
      const created = await guard(
        this.createScript(
          [this.key(id), this.logKey(id), this.updatedKey, this.allKey, this.statusKey(status)],
          [id, JSON.stringify(meta), status, listMember(meta.createdAt, id), Date.parse(meta.createdAt), meta.createdAt, JSON.stringify(first.data), meta.webhook ? '1' : '0'],
        ),
      );
      if (created !== 1) throw new Error('A session with this id exists already');
    } catch (err) {
      this.files.remove(id);
      throw err;
    }
    return this.remember(new RedisSession(meta, [first], this.link));
  }

  /** The session, loaded from Redis and followed when this node does not hold it yet. */
  async get(id: string): Promise<Session | undefined> {
    if (!isSessionId(id)) return undefined;
    const held = this.sessions.get(id);
    if (held) {
      this.sessions.delete(id); // re-inserted last: the map stays least recently used first
      this.sessions.set(id, held);
      return held;
    }
    let loading = this.loading.get(id);
    if (!loading) {
      loading = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, loading);
    }
    return loading;
  }

  async list({ status, after, limit }: SessionListQuery): Promise<Session[]> {
    const key = status ? this.statusKey(status) : this.allKey;
    const max = after ? `(${listMember(after.createdAt, after.sessionId)}` : '+';
    const members = await guard(this.conn.client.zrevrangebylex(key, max, '-', 'LIMIT', 0, Math.max(0, limit)));
    const sessions = await Promise.all(members.map((m) => this.get(m.slice(m.indexOf('|') + 1))));
    return sessions.filter((s): s is Session => s !== undefined);
  }

  async count(): Promise<Record<SessionStatus, number>> {
    const counts = await guard(Promise.all(STATUSES.map((s) => this.conn.client.zcard(this.statusKey(s)))));
    return Object.fromEntries(STATUSES.map((s, i) => [s, counts[i]])) as Record<SessionStatus, number>;
  }

  /** Deletes the session's files, then its keys, on every node. Throws a StorageError (and keeps it) when the files stay. */
  async remove(id: string): Promise<boolean> {
    if (!isSessionId(id)) return false;
    this.files.remove(id);
    const keys = [this.key(id), this.logKey(id), this.key(id, 'w'), this.key(id, 'result'), this.updatedKey, this.allKey, ...STATUSES.map((s) => this.statusKey(s))];
    const existed = (await guard(this.removeScript(keys, [id]))) === 1;
    this.forget(id);
    await this.conn.client.publish(this.removedChannel, id).catch(() => {}); // missed by a node cut off now: it keeps a stale replica
    return existed;
  }

  /** Waits for Redis up to retryWindowMs as the sessions' writes do: a run that ended while Redis was away still stores its result (SET: sending it again is harmless). */
  async writeResult(id: string, result: unknown): Promise<void> {
    const text = JSON.stringify(result);
    const until = Date.now() + this.retryWindowMs;
    for (;;) {
      try {
        await guard(this.conn.client.set(this.key(id, 'result'), text));
        return;
      } catch (err) {
        const left = until - Date.now();
        if (!(err instanceof RedisUnavailableError) || left <= 0) throw err;
        await this.conn.ready(left);
        await new Promise((r) => setTimeout(r, 20)); // an error that outlives the reconnect (LOADING) is not retried in a loop
      }
    }
  }

  async resultText(id: string): Promise<string | null> {
    return guard(this.conn.client.get(this.key(id, 'result')));
  }

  /** Nothing to load: sessions stay in Redis, and jobs interrupted by a dead node are taken over through their lease. */
  async recover(): Promise<RecoveryReport> {
    return { restored: 0, requeue: [], resumed: 0, uploading: [], sessions: [] };
  }

  /** Ids of the sessions whose last event is older than ttlMs. */
  async refresh(session: Session): Promise<void> {
    const held = this.sessions.get(session.id);
    if (!held || held.ended) return;
    const entries = await guard(this.conn.client.xrange(this.logKey(session.id), `0-${held.lastSeq + 1}`, '+'));
    for (const [, fields] of entries) held.receive(JSON.parse(fields[1]) as SessionEvent);
  }

  async expired(now: number, ttlMs: number): Promise<string[]> {
    return guard(this.conn.client.zrangebyscore(this.updatedKey, '-inf', `(${now - ttlMs}`));
  }

  diskBytes(id: string): number {
    return this.files.diskBytes(id);
  }

  /** Every event is in Redis once written: nothing is behind. */
  catchUp(): void {}

  async close(): Promise<void> {
    await this.reader.close();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private async load(id: string): Promise<RedisSession | undefined> {
    const [meta, entries] = await guard(Promise.all([this.conn.client.hget(this.key(id), 'meta'), this.conn.client.xrange(this.logKey(id), '-', '+')]));
    if (!meta) return undefined;
    const raced = this.sessions.get(id); // created on this node meanwhile
    if (raced) return raced;
    const history = entries.map(([, fields]) => JSON.parse(fields[1]) as SessionEvent);
    return this.remember(new RedisSession(JSON.parse(meta) as SessionMeta, history, this.link));
  }

  private remember(session: RedisSession): RedisSession {
    this.sessions.set(session.id, session);
    this.reader.follow(session);
    if (this.sessions.size > this.cachedEnded + this.reader.size) {
      for (const [id, s] of this.sessions) {
        if (this.sessions.size <= this.cachedEnded + this.reader.size) break;
        if (s.ended) this.sessions.delete(id);
      }
    }
    return session;
  }

  private forget(id: string): void {
    this.sessions.delete(id);
    this.reader.unfollow(id);
  }

  private key(id: string, part?: string): string {
    return part ? this.conn.key('s', id, part) : this.conn.key('s', id);
  }

  private logKey(id: string): string {
    return this.key(id, 'log');
  }

  private get allKey(): string {
    return this.conn.key('sessions');
  }

  private get webhooksDueKey(): string {
    return webhooksDueKey(this.conn);
  }

  private get updatedKey(): string {
    return this.conn.key('sessions', 'updated');
  }

  private statusKey(status: SessionStatus): string {
    return this.conn.key('sessions', status);
  }
}
