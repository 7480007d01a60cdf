// The shared store of cluster mode (REDIS_URL): sessions, event logs, the job queue and the
// locks on Redis (src/streams/redis). Without REDIS_URL the service uses the journal and needs none.
import type { ServiceBackend } from '../streams/service.js';
import { RedisConnection } from '../streams/redis/connection.js';
import { RedisClusterLock } from '../streams/redis/cluster-lock.js';
import { RedisJobQueue } from '../streams/redis/job-queue.js';
import { RedisSessionStore } from '../streams/redis/session-store.js';
import { RedisUploadLocks } from '../streams/redis/upload-locks.js';
import { RedisWebhookStore } from '../streams/redis/webhook-store.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

/** How long a start waits for Redis before it goes on degraded (it connects by itself later). */
const CONNECT_WAIT_MS = 5000;
/** A tus upload's lock whose holder said nothing for this long (a node that died mid-request) is taken over. */
const UPLOAD_LOCK_STALE_MS = 5000;

/** Connects to Redis; resolves even while it is away (requests get 503 unavailable until it is back). */
export async function openBackend(config: Config, log: Logger): Promise<ServiceBackend> {
  const conn = new RedisConnection({ url: config.redisUrl!, prefix: config.redisPrefix });
  conn.onConnectedChange((up) => (up ? log.info('redis: connected') : log.warn('redis: connection lost; reconnecting')));
  const up = await conn.ready(CONNECT_WAIT_MS).then(
    () => true,
    () => false,
  );
  if (!up) log.warn({ waitedMs: CONNECT_WAIT_MS }, 'redis: not reachable at start; serving degraded until it is');
  // an api node runs no analyses: it offers the cluster no engine slots
  const queue = new RedisJobQueue(conn, {
    nodeId: config.nodeId,
    concurrency: config.role === 'api' ? 0 : config.engineConcurrency,
    queueLimit: config.queueLimit,
    jobLeaseMs: config.jobLeaseMs,
  });
  // A write waits this long for Redis to come back (a worker's events outlast a Redis restart).
  const store = new RedisSessionStore(conn, { nodeId: config.nodeId, dataDir: config.dataDir, retryWindowMs: config.jobLeaseMs });
  if (up) {
    const heard = Promise.all([queue.listening, store.listening]);
    await Promise.race([heard, new Promise((r) => setTimeout(r, CONNECT_WAIT_MS))]);
  }
  return {
    store,
    queue,
    uploadLocks: new RedisUploadLocks(conn, UPLOAD_LOCK_STALE_MS),
    clusterLock: new RedisClusterLock(conn),
    // a worker may have no way out to the receivers: api and all nodes send
    webhooks: new RedisWebhookStore(conn, { send: config.role !== 'worker' }),
    nodeId: config.nodeId,
    connected: () => conn.connected,
    close: () => conn.close(),
  };
}
