// The node's one reader of session logs: a single blocking XREAD over the streams of every
// session this node follows, each read from its replica's lastSeq (the entry id of seq n is
// `0-n`), so each event reaches the node once however many local subscribers the session has,
// and a reader that lost Redis resumes where its replicas are, with no gap and nothing twice.
//
// A change of the followed set wakes the read through an entry on the node's own wake stream,
// which is one of the streams read: unlike CLIENT UNBLOCK (sent on another connection, it can
// arrive before the read blocks and be lost), an entry added before the read is still seen by it.
import type { Redis } from 'ioredis';
import type { SessionEvent } from '../events.js';
import type { RedisConnection } from './connection.js';
import type { RedisSession } from './redis-session.js';

const BLOCK_MS = 5000;
const COUNT = 512;

export class LogReader {
  private readonly client: Redis;
  private readonly followed = new Map<string, RedisSession>();
  private readonly wakeKey: string;
  private wakeCursor = '0-0';
  private idle: (() => void) | null = null;
  private closed = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly conn: RedisConnection,
    private readonly logKey: (id: string) => string,
    nodeId: string,
  ) {
    this.client = conn.duplicate('vas-log-reader');
    this.wakeKey = conn.key('node', nodeId, 'wake');
    this.done = this.run();
  }

  get size(): number {
    return this.followed.size;
  }

  follow(session: RedisSession): void {
    if (session.ended || this.followed.get(session.id) === session) return;
    this.followed.set(session.id, session);
    this.wake();
  }

  unfollow(id: string): void {
    if (this.followed.delete(id)) this.wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    this.client.disconnect();
    await this.done;
  }

  private wake(): void {
    if (this.idle) {
      this.idle();
      this.idle = null;
      return;
    }
    // the read may be blocked now: an entry on the wake stream ends it
    this.conn.client.xadd(this.wakeKey, 'MAXLEN', '~', 16, '*', 'w', '1').catch(() => {}); // Redis away: the read failed too and starts again
    this.conn.client.pexpire(this.wakeKey, 86_400_000).catch(() => {});
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      // a log ended by this node's own write is not read again
      for (const [id, s] of this.followed) if (s.ended) this.followed.delete(id);
      if (this.followed.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        continue;
      }
      const sessions = [...this.followed.values()];
      const byKey = new Map(sessions.map((s) => [this.logKey(s.id), s]));
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        reply = (await this.client.xread(
          'COUNT',
          COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.wakeKey,
          ...byKey.keys(),
          this.wakeCursor,
          ...sessions.map((s) => `0-${s.lastSeq}`),
        )) as typeof reply;
      } catch {
        if (!this.closed) await this.reconnected();
        continue;
      }
      for (const [key, entries] of reply ?? []) {
        if (key === this.wakeKey) {
          this.wakeCursor = entries[entries.length - 1][0];
          continue;
        }
        const session = byKey.get(key)!;
        for (const [id, fields] of entries) {
          // entry 0-{seq}: an event this node applied already (its own write) is not parsed again
          if (Number(id.slice(2)) > session.lastSeq) session.receive(JSON.parse(fields[1]) as SessionEvent);
        }
        if (session.ended && this.followed.get(session.id) === session) this.followed.delete(session.id);
      }
    }
  }

  /** Resolves when the reader's connection is back (or after a second, to look again). */
  private reconnected(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.client.off('ready', done);
        resolve();
      };
      const t = setTimeout(done, 1000);
      this.client.once('ready', done);
    });
  }
}
