// The producer's handle on one session of the cluster: the service's own Redis store, as a
// ROLE=worker node writes a session's events (appends in call order on one connection).
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { RedisSessionStore } from '../../src/streams/redis/session-store.js';

export interface ProducerSession {
  append(type: 'upload', data: Record<string, unknown>): Promise<unknown>;
  /** Ends the log (cancelled) and closes the connections. */
  close(): Promise<void>;
}

export async function openProducerSession(spec: { redisUrl: string; prefix: string; dataDir: string; sessionId: string }): Promise<ProducerSession> {
  const conn = new RedisConnection({ url: spec.redisUrl, prefix: spec.prefix });
  await conn.ready();
  const store = new RedisSessionStore(conn, { nodeId: `bench-producer-${process.pid}`, dataDir: spec.dataDir, retryWindowMs: 15_000 });
  const session = await store.get(spec.sessionId);
  if (!session) throw new Error(`session ${spec.sessionId} is not in Redis`);
  return {
    append: (type, data) => session.append(type, data),
    close: async () => {
      await session.transition('cancelled');
      await store.close();
      await conn.close();
    },
  };
}
