// A key held by whoever set it: taken with SET NX PX and a random token, kept alive and given
// up only by the token's holder (a Lua check-and-act, so an expired holder cannot touch the
// next one's lock). A holder that stops refreshing loses the key after its ttl.
import { randomBytes } from 'node:crypto';
import { guard, type RedisConnection, type ScriptFn } from './connection.js';

// KEYS key; ARGV token ttlMs
const REFRESH = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;
// KEYS key; ARGV token
const RELEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

export interface HeldKey {
  /** Keeps the key for another ttl; false once it is not this holder's (expired, taken over). Rejects with RedisUnavailableError while Redis is away. */
  refresh(): Promise<boolean>;
  /** Gives the key up if still held. Never rejects (a key not released expires). */
  release(): Promise<void>;
}

export class TokenLocks {
  private readonly refreshScript: ScriptFn;
  private readonly releaseScript: ScriptFn;

  constructor(private readonly conn: RedisConnection) {
    this.refreshScript = conn.script('vasLockRefresh', 1, REFRESH);
    this.releaseScript = conn.script('vasLockRelease', 1, RELEASE);
  }

  /** Takes `key` for ttlMs; null while someone else holds it. Rejects with RedisUnavailableError. */
  async acquire(key: string, ttlMs: number): Promise<HeldKey | null> {
    const token = randomBytes(12).toString('base64url');
    const ok = await guard(this.conn.client.set(key, token, 'PX', ttlMs, 'NX'));
    if (ok !== 'OK') return null;
    let released = false;
    return {
      refresh: async () => !released && (await guard(this.refreshScript([key], [token, ttlMs]))) === 1,
      release: async () => {
        if (released) return;
        released = true;
        await this.releaseScript([key], [token]).catch(() => {});
      },
    };
  }
}
