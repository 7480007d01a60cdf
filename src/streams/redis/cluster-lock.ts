// Work that runs on one node of the cluster at a time (the expiry sweep): the node that sets the
// lock key runs it, refreshing the key while it runs; the others skip their turn.
import type { ClusterLock } from '../stores.js';
import type { RedisConnection } from './connection.js';
import { TokenLocks } from './token-lock.js';

export class RedisClusterLock implements ClusterLock {
  private readonly locks: TokenLocks;

  constructor(private readonly conn: RedisConnection) {
    this.locks = new TokenLocks(conn);
  }

  /** Runs `fn` unless another node holds `name`; resolves whether it ran. Rejects with RedisUnavailableError when the lock cannot be asked for. */
  async tryRun(name: string, ttlMs: number, fn: () => Promise<void>): Promise<boolean> {
    const held = await this.locks.acquire(this.conn.key('lock', name), ttlMs);
    if (!held) return false;
    // kept while fn runs longer than ttlMs; a node that dies mid-run lets the next one in after ttlMs
    const keep = setInterval(() => void held.refresh().catch(() => {}), Math.max(50, ttlMs / 3));
    keep.unref();
    try {
      await fn();
    } finally {
      clearInterval(keep);
      await held.release();
    }
    return true;
  }
}
