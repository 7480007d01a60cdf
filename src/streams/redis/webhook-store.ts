// Webhook deliveries of the cluster: one hash (session id -> the delivery as JSON) and one sorted
// set of when each is due. Every sending node polls the set and claims what is due for a lease (one
// script), so one node at a time sends a delivery, and a node that dies mid-attempt leaves it to
// another once the lease runs out. The session append script marks a session that has a webhook
// due when its terminal event lands (redis-session.ts), so a delivery is sent even when the node
// that created the session, which records it, is gone by then (webhooks.ts makes it from the session).
import type { WebhookDelivery, WebhookSchedule, WebhookStore } from '../stores.js';
import { guard, type RedisConnection, type ScriptFn } from './connection.js';

/** How often each node looks for due deliveries. */
const POLL_MS = 500;
/** How long a claimed delivery is left to its node: longer than an attempt may take (its timeout). */
export const WEBHOOK_CLAIM_MS = 30_000;
/** Deliveries claimed per poll. */
const CLAIM_MAX = 16;

// KEYS due; ARGV now, claimed until, max. The due deliveries, each pushed to `claimed until`.
const CLAIM_LUA = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids`;

/** The sorted set of due deliveries (also marked by the session append script). */
export const webhooksDueKey = (conn: RedisConnection) => conn.key('webhooks', 'due');

export interface RedisWebhookOptions {
  /** false: this node keeps the store but sends nothing (a worker). */
  send: boolean;
  claimMs?: number;
  pollMs?: number;
}

export class RedisWebhookStore implements WebhookStore, WebhookSchedule {
  private readonly hashKey: string;
  private readonly claim: ScriptFn;
  private readonly claimMs: number;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private attempt: ((sessionId: string) => Promise<void>) | null = null;
  private polling = false;
  /** Attempts this node runs now (a claim that comes round again meanwhile is skipped). */
  private readonly running = new Set<string>();

  constructor(
    private readonly conn: RedisConnection,
    private readonly opts: RedisWebhookOptions,
  ) {
    this.hashKey = conn.key('webhooks');
    this.claim = conn.script('vasWebhookClaim', 1, CLAIM_LUA);
    this.claimMs = opts.claimMs ?? WEBHOOK_CLAIM_MS;
    this.pollMs = opts.pollMs ?? POLL_MS;
  }

  private get dueKey(): string {
    return webhooksDueKey(this.conn);
  }

  async create(d: WebhookDelivery): Promise<boolean> {
    return (await guard(this.conn.client.hsetnx(this.hashKey, d.sessionId, JSON.stringify(d)))) === 1;
  }

  async save(d: WebhookDelivery): Promise<void> {
    await guard(this.conn.client.hset(this.hashKey, d.sessionId, JSON.stringify(d)));
  }

  async get(sessionId: string): Promise<WebhookDelivery | null> {
    const raw = await guard(this.conn.client.hget(this.hashKey, sessionId));
    return raw ? (JSON.parse(raw) as WebhookDelivery) : null;
  }

  async remove(sessionId: string): Promise<void> {
    await guard(this.conn.client.hdel(this.hashKey, sessionId));
  }

  start(attempt: (sessionId: string) => Promise<void>): void {
    if (!this.opts.send) return;
    this.attempt = attempt;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
    void this.poll();
  }

  async first(sessionId: string): Promise<void> {
    // NX: a node may have claimed it already (the append script marked it due)
    await guard(this.conn.client.zadd(this.dueKey, 'NX', Date.now(), sessionId));
    void this.poll();
  }

  async at(sessionId: string, at: number): Promise<void> {
    await guard(this.conn.client.zadd(this.dueKey, at, sessionId));
  }

  async clear(sessionId: string): Promise<void> {
    await guard(this.conn.client.zrem(this.dueKey, sessionId));
  }

  stop(): void {
    this.attempt = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Claims what is due and attempts it; Redis away: tried again at the next poll. */
  private async poll(): Promise<void> {
    if (!this.attempt || this.polling || !this.conn.connected) return;
    this.polling = true;
    try {
      const now = Date.now();
      const ids = (await this.claim([this.dueKey], [now, now + this.claimMs, CLAIM_MAX])) as string[];
      for (const id of ids) {
        const attempt = this.attempt;
        if (!attempt || this.running.has(id)) continue;
        this.running.add(id);
        void attempt(id).finally(() => this.running.delete(id));
      }
    } catch {
      // unreachable or a lost reply: what was claimed comes round again after the claim
    } finally {
      this.polling = false;
    }
  }
}
