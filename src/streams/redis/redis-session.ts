// A node's replica of a session whose log is a Redis Stream. Writes go to Redis through one Lua
// script that assigns the next seq (gapless, refused after the terminal event, with the
// transition's conditions); the replica applies what Redis accepted and what the node's log
// reader brings from other nodes, in seq order (Session.apply).
//
// Writes of one replica keep their call order: they are sent on one connection, and when Redis
// goes away the failed write and every later one wait for it to come back (up to
// `retryWindowMs`) and are sent again in order. Each write carries an id that the script
// remembers, so a write whose reply was lost is not applied twice when it is sent again.
import { randomBytes } from 'node:crypto';
import { RedisUnavailableError } from '../errors.js';
import { type EventType, type SessionEvent, type SessionMeta, type SessionStatus, TERMINAL_EVENTS, isTerminal } from '../events.js';
import { Session, type TransitionOptions, statusEventData } from '../session.js';
import { isUnavailable, type RedisConnection, type ScriptFn } from './connection.js';

export const STATUSES: readonly SessionStatus[] = ['uploading', 'pending', 'processing', 'completed', 'failed', 'cancelled'];

/** Write ids a session's script remembers per writer (to answer a write sent again). */
const REMEMBERED_WRITES = 64;

// KEYS: 1 hash, 2 log, 3 updated (zset), 4 writes (hash), 5..10 the status sets in STATUSES order,
//   11 the webhooks' due set (marked when a session that has a webhook ends: redis/webhook-store.ts).
// ARGV: 1 sessionId, 2 write id, 3 write id to forget or '', 4 at (ISO), 5 at (ms), 6 'a' | 't', then
//   'a': 7 type, 8 data JSON, 9 the status it enters or '', 10 a segment's index or ''
//   't': 7 status, 8 from or '', 9 status event data JSON, 10 terminal event data JSON, 11 '1' if terminal
// Returns the seq of the last event appended, 0 when refused. A segment whose index the log
// already has is refused: two workers that both believe they hold a job (the old one's writes
// held through an outage longer than its lease, the new one's take-over) never log a segment twice.
export const APPEND_LUA = `
local prev = redis.call('HGET', KEYS[4], ARGV[2])
if prev then return tonumber(prev) end
local function done(r)
  redis.call('HSET', KEYS[4], ARGV[2], r)
  if ARGV[3] ~= '' then redis.call('HDEL', KEYS[4], ARGV[3]) end
  return r
end
local h = KEYS[1]
if redis.call('HGET', h, 'closed') ~= '0' then return done(0) end
local sets = {uploading = 5, pending = 6, processing = 7, completed = 8, failed = 9, cancelled = 10}
local terminal = {completed = true, failed = true, cancelled = true}
local seq = tonumber(redis.call('HGET', h, 'lastSeq'))
local function add(type, data)
  seq = seq + 1
  redis.call('XADD', KEYS[2], '0-' .. seq, 'e', '{"seq":' .. seq .. ',"type":"' .. type .. '","data":' .. data .. ',"at":"' .. ARGV[4] .. '"}')
end
local function close()
  redis.call('HSET', h, 'closed', '1')
  if redis.call('HGET', h, 'webhook') == '1' then redis.call('ZADD', KEYS[11], 'NX', ARGV[5], ARGV[1]) end
end
local function enter(status)
  local cur = redis.call('HGET', h, 'status')
  if cur == status or terminal[cur] or not sets[status] then return end
  local member = redis.call('HGET', h, 'member')
  redis.call('ZREM', KEYS[sets[cur]], member)
  redis.call('ZADD', KEYS[sets[status]], 0, member)
  redis.call('HSET', h, 'status', status)
end
if ARGV[6] == 'a' then
  if ARGV[10] ~= '' and redis.call('HSETNX', h, 'segment:' .. ARGV[10], 1) == 0 then return done(0) end
  add(ARGV[7], ARGV[8])
  if ARGV[9] ~= '' then enter(ARGV[9]) end
  if terminal[ARGV[7]] then close() end
else
  local status, from = ARGV[7], ARGV[8]
  local cur = redis.call('HGET', h, 'status')
  if terminal[cur] or cur == status or (from ~= '' and cur ~= from) then return done(0) end
  add('status', ARGV[9])
  enter(status)
  if ARGV[11] == '1' then
    add(status, ARGV[10])
    close()
  end
end
redis.call('HSET', h, 'lastSeq', seq, 'updatedAt', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return done(seq)`;

/** What a replica needs of its store. */
export interface SessionLink {
  conn: RedisConnection;
  append: ScriptFn;
  /** The keys of APPEND_LUA for a session. */
  keys(id: string): string[];
  nodeId: string;
  /** How long writes wait for Redis to come back before they fail with RedisUnavailableError. */
  retryWindowMs: number;
}

interface Write {
  args: Array<string | number>;
  resolve(seq: number): void;
  reject(err: unknown): void;
}

export class RedisSession extends Session {
  private readonly writerId: string;
  private writes = 0;
  /** Sent and not answered yet, in call order. */
  private readonly unanswered: Write[] = [];
  /** Redis went away under a write: later writes wait until it is back. */
  private held = false;

  constructor(
    meta: SessionMeta,
    history: SessionEvent[],
    private readonly link: SessionLink,
  ) {
    super(meta, 'pending', history);
    this.writerId = `${link.nodeId}.${randomBytes(6).toString('base64url')}`;
  }

  /** Whether nothing more can be appended (its log ended with the terminal event). */
  get ended(): boolean {
    return this.closed;
  }

  /** An event of the log as Redis has it (from this node's reader). */
  receive(ev: SessionEvent): void {
    this.apply(ev);
  }

  async append(type: EventType, data: Record<string, unknown>): Promise<SessionEvent | null> {
    if (this.closed) return null;
    const json = JSON.stringify(data);
    const at = new Date();
    const enters = type === 'status' ? String(data.status ?? '') : TERMINAL_EVENTS.has(type) ? type : '';
    const segment = type === 'segment' && Number.isInteger(data.index) ? String(data.index) : '';
    const seq = await this.write(at, ['a', type, json, enters, segment]);
    if (seq === 0) return null;
    // the caller's object, as LocalSession keeps it (a copy per event would double the memory of big logs); other nodes hold its JSON
    const ev: SessionEvent = { seq, type, data, at: at.toISOString() };
    this.apply(ev);
    return ev;
  }

  async transition(status: SessionStatus, terminalData: Record<string, unknown> = {}, opts: TransitionOptions = {}): Promise<boolean> {
    if (this.terminal) return false; // terminal is final: Redis would refuse it too
    const at = new Date();
    const statusData = JSON.stringify(statusEventData(status, terminalData));
    const terminalJson = JSON.stringify(terminalData);
    const terminal = isTerminal(status);
    const seq = await this.write(at, ['t', status, opts.from ?? '', statusData, terminalJson, terminal ? '1' : '0']);
    if (seq === 0) return false;
    const iso = at.toISOString();
    const first = terminal ? seq - 1 : seq;
    this.apply({ seq: first, type: 'status', data: JSON.parse(statusData) as Record<string, unknown>, at: iso });
    if (terminal) this.apply({ seq, type: status as EventType, data: JSON.parse(terminalJson) as Record<string, unknown>, at: iso });
    return true;
  }

  private write(at: Date, rest: string[]): Promise<number> {
    const n = ++this.writes;
    const forget = n > REMEMBERED_WRITES ? `${this.writerId}:${n - REMEMBERED_WRITES}` : '';
    const args = [this.id, `${this.writerId}:${n}`, forget, at.toISOString(), at.getTime(), ...rest];
    return new Promise<number>((resolve, reject) => {
      const w: Write = { args, resolve, reject };
      this.unanswered.push(w);
      if (!this.held) this.send(w);
    });
  }

  private send(w: Write): void {
    this.link.append(this.link.keys(this.id), w.args).then(
      (seq) => this.answered(w, () => w.resolve(Number(seq))),
      (err) => {
        if (!isUnavailable(err)) return this.answered(w, () => w.reject(err));
        if (this.held) return; // already waiting for Redis; sent again with the others
        this.held = true;
        this.link.conn.ready(this.link.retryWindowMs).then(
          () =>
            // a moment's pause: an error that outlives the reconnect (LOADING) is not retried in a loop
            setTimeout(() => {
              this.held = false;
              for (const again of [...this.unanswered]) this.send(again);
            }, 20),
          () => {
            this.held = false;
            for (const lost of this.unanswered.splice(0)) lost.reject(new RedisUnavailableError());
          },
        );
      },
    );
  }

  private answered(w: Write, settle: () => void): void {
    const i = this.unanswered.indexOf(w);
    if (i < 0) return; // given up on meanwhile
    this.unanswered.splice(i, 1);
    settle();
  }
}
