// Clients of one Redis (REDIS_URL) under one key prefix. Commands fail fast while Redis cannot be
// reached (no offline queue, nothing resent after a reconnect: a resent append could land twice)
// with RedisUnavailableError; each client reconnects by itself with a capped backoff. A watchdog
// PINGs Redis: a connection that stops answering without closing (a network partition, a half-open
// socket after the peer vanished) would otherwise hold every command and blocked read until TCP
// keepalive gave up, minutes later; then every connection is reset and reconnects as after a drop.
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from '../errors.js';

export interface RedisConnectionOptions {
  url: string;
  /** Put before every key and channel (default `vas:`); tests use their own. */
  prefix?: string;
  /** How often the watchdog PINGs (default 2 s), and how long a PING may go unanswered (default 5 s). */
  pingEveryMs?: number;
  pingTimeoutMs?: number;
}

/** Reconnect after 50 ms, doubling up to 2 s, for ever. */
const reconnectDelay = (attempt: number) => Math.min(2000, 50 * 2 ** Math.min(attempt, 6));

const CLIENT_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  // 0: commands in flight when the connection drops are rejected at once, not retried
  maxRetriesPerRequest: 0,
  retryStrategy: reconnectDelay,
  connectTimeout: 5000,
  keepAlive: 10_000,
};

type Listener = (connected: boolean) => void;
export type ScriptFn = (keys: string[], args: Array<string | number>) => Promise<unknown>;

export class RedisConnection {
  readonly prefix: string;
  /** For commands: one connection, so commands run in the order they were called. */
  readonly client: Redis;
  private readonly others: Redis[] = [];
  private readonly listeners = new Set<Listener>();
  private wasConnected = false;
  private closed = false;
  private readonly watchdog: NodeJS.Timeout;
  private pinging = false;

  constructor(private readonly opts: RedisConnectionOptions) {
    this.prefix = opts.prefix ?? 'vas:';
    this.client = this.open('vas-commands');
    this.client.on('ready', () => this.changed(true));
    this.client.on('close', () => this.changed(false));
    this.watchdog = setInterval(() => void this.ping(), opts.pingEveryMs ?? 2000);
    this.watchdog.unref();
  }

  /** The full name of a key or channel. */
  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** Told when the command connection goes down or comes back; returns the unsubscribe. */
  onConnectedChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the command connection is up; rejects with RedisUnavailableError after timeoutMs. */
  ready(timeoutMs = 10_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new RedisUnavailableError());
      }, timeoutMs);
      const off = this.onConnectedChange((up) => {
        if (!up) return;
        clearTimeout(t);
        off();
        resolve();
      });
    });
  }

  /** Another client with the same settings (a blocking reader, a subscriber); closed by close(). */
  duplicate(name: string): Redis {
    const c = this.open(name);
    this.others.push(c);
    return c;
  }

  /** A Lua script on the command client (EVALSHA, loaded again after a Redis restart). */
  script(name: string, numberOfKeys: number, lua: string, client: Redis = this.client): ScriptFn {
    client.defineCommand(name, { numberOfKeys, lua });
    const fn = (client as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[name].bind(client);
    return (keys, args) => fn(...keys, ...args);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    // the others may be blocked in a read or subscribed: nothing of theirs waits to be sent
    for (const c of this.others) c.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
    this.listeners.clear();
  }

  private open(connectionName: string): Redis {
    const c = new Redis(this.opts.url, { ...CLIENT_OPTIONS, connectionName });
    // Connection errors are reported through `connected` and command rejections; without a
    // listener ioredis would print each reconnect attempt.
    c.on('error', () => {});
    return c;
  }

  /** One PING at a time; unanswered within pingTimeoutMs, every connection is reset. */
  private async ping(): Promise<void> {
    if (this.pinging || this.closed || !this.connected) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<'silent'>((resolve) => (timer = setTimeout(() => resolve('silent'), this.opts.pingTimeoutMs ?? 5000)));
    let answered = false;
    const ping = this.client.ping().then(
      () => (answered = true),
      () => 'failed',
    );
    try {
      const answer = await Promise.race([ping, silent]);
      // The timer may have fired first only because the event loop was busy (an analysis, a GC):
      // a reply already in the socket is read in this turn's poll phase, before setImmediate.
      if (answer === 'silent') await new Promise((r) => setImmediate(r));
      if (answer === 'silent' && !answered && !this.closed) {
        // commands and blocked reads in flight are rejected (RedisUnavailableError), as on a drop
        for (const c of [this.client, ...this.others]) c.disconnect(true);
      }
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  private changed(up: boolean): void {
    if (up === this.wasConnected) return;
    this.wasConnected = up;
    for (const l of [...this.listeners]) l(up);
  }
}

/** Whether an error means Redis could not be reached (rather than a refused command). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (err instanceof ReplyError) return /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY)/.test((err as Error).message);
  return err instanceof Error;
}

/** Runs a Redis call, turning connection failures into RedisUnavailableError. */
export async function guard<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw isUnavailable(err) ? new RedisUnavailableError() : err;
  }
}
