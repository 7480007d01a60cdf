// The tus per-upload lock in Redis, so that an upload may go on on any API node: one request
// writes at a time, and the lock of a request that went silent (a dropped connection, a dead
// node) stops being refreshed and is taken over after `staleMs`.
import type { UploadLock, UploadLocks } from '../stores.js';
import type { RedisConnection } from './connection.js';
import { TokenLocks } from './token-lock.js';

export class RedisUploadLocks implements UploadLocks {
  private readonly locks: TokenLocks;

  constructor(
    private readonly conn: RedisConnection,
    private readonly staleMs: number,
  ) {
    this.locks = new TokenLocks(conn);
  }

  /** The lock for one request, or null while another live request holds it. Rejects with RedisUnavailableError. */
  acquire(uploadId: string): Promise<UploadLock | null> {
    return this.locks.acquire(this.conn.key('upload', uploadId, 'lock'), this.staleMs);
  }
}
