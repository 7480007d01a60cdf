// RedisJobQueue against a real redis-server: two queue instances in one process stand for two
// nodes. Each job taken once, in order; QUEUE_LIMIT counts the whole cluster; a silent holder's
// job is taken over after JOB_LEASE while a renewing one keeps it; cancel from one node reaches
// the holder on the other; release hands the job on at once; Redis restarted under the queue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueFullError, RedisUnavailableError } from '../../src/streams/errors.js';
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { RedisJobQueue, type RedisJobQueueOptions } from '../../src/streams/redis/job-queue.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
const open: Array<{ close(): Promise<void> }> = [];
let prefixN = 0;

async function nodes(n: number, opts: Partial<RedisJobQueueOptions> = {}) {
  const prefix = `t${++prefixN}:`;
  const out: Array<{ conn: RedisConnection; q: RedisJobQueue }> = [];
  for (let i = 0; i < n; i++) {
    const conn = new RedisConnection({ url: redis.url, prefix });
    await conn.ready();
    const q = new RedisJobQueue(conn, { nodeId: `node${i}`, concurrency: 1, queueLimit: 10, jobLeaseMs: 15_000, ...opts });
    open.push(conn, q); // closed in reverse: the queue first
    await q.listening;
    out.push({ conn, q });
  }
  return out;
}

/** Resolves with the first non-null value of `fn`, tried now and on each ready signal of `q`, or fails after timeoutMs. */
function whenReady<T>(q: RedisJobQueue, fn: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const t = setTimeout(() => {
      done = true;
      reject(new Error('timed out'));
    }, timeoutMs);
    const attempt = () => {
      if (done) return;
      fn().then((v) => {
        if (v !== null && !done) {
          done = true;
          clearTimeout(t);
          resolve(v);
        }
      }, reject);
    };
    q.onReady(attempt);
    attempt();
  });
}

test.before(async () => {
  redis = await startRedis({ appendonly: 'always' });
});

test.after(async () => {
  for (const c of open.reverse()) await c.close();
  await redis.stop();
});

test('jobs queued on two nodes are each taken once, oldest first, across the nodes', async () => {
  const [a, b] = await nodes(2, { concurrency: 5 });
  for (let i = 0; i < 6; i++) await (i % 2 ? a.q : b.q).enqueue(`s${i}`);
  await a.q.enqueue('s0'); // queued already: stays once
  assert.is(await a.q.depth(), 6);
  const taken: string[] = [];
  for (let i = 0; i < 6; i++) taken.push((await (i % 2 ? b.q : a.q).take())!.sessionId);
  assert.equal(taken, ['s0', 's1', 's2', 's3', 's4', 's5']);
  assert.is(await a.q.take(), null);
  assert.is(await b.q.take(), null);
  assert.is(await b.q.depth(), 0);
  assert.is(a.q.leased + b.q.leased, 6);
});

test('QUEUE_LIMIT is for the cluster: waiting jobs below the limit plus the free slots of live workers', async () => {
  // two API nodes (no slots) and a limit of 2
  const [a, b] = await nodes(2, { concurrency: 0, queueLimit: 2 });
  await a.q.enqueue('x1');
  await b.q.enqueue('x2');
  assert.not.ok(await a.q.hasRoom());
  try {
    await b.q.enqueue('x3');
    assert.unreachable('the third job was accepted');
  } catch (err) {
    assert.instance(err, QueueFullError);
    assert.ok((err as QueueFullError).retryAfterSeconds >= 1);
  }
  await a.q.enqueue('x3', { limit: false });
  assert.is(await b.q.depth(), 3);

  // a worker with two slots joins the same cluster: two more fit while its slots are free
  const conn = new RedisConnection({ url: redis.url, prefix: a.conn.prefix });
  await conn.ready();
  const w = new RedisJobQueue(conn, { nodeId: 'worker', concurrency: 2, queueLimit: 2, jobLeaseMs: 15_000 });
  open.push(conn, w);
  await w.listening;
  await whenReady(w, async () => ((await a.q.hasRoom()) ? true : null));
  await a.q.enqueue('x4');
  assert.not.ok(await b.q.hasRoom(), '3 waiting + 1 = limit 2 + 2 free slots');
  await w.take();
  await w.take();
  // two running, three waiting: room for none beyond the limit
  assert.is(await a.q.depth(), 2);
  assert.not.ok(await a.q.hasRoom());
  await b.q.cancel('x3');
  assert.ok(await a.q.hasRoom());
});

test('Retry-After: the waiting jobs in waves of the cluster’s slots, each as long as the mean run measured anywhere', async () => {
  const [a, b] = await nodes(2, { concurrency: 1 }); // two slots in the cluster
  await a.q.enqueue('m');
  await b.q.complete((await b.q.take())!, 4000);
  assert.is(await a.q.retryAfterSeconds(), 4, 'nothing waiting: one wave');
  for (const id of ['w1', 'w2', 'w3']) await b.q.enqueue(id);
  assert.is(await a.q.retryAfterSeconds(), 8, '3 waiting + 1 in waves of 2 slots');
  await a.q.complete((await a.q.take())!, 9000); // mean 0.8 * 4000 + 0.2 * 9000 = 5000
  assert.is(await b.q.retryAfterSeconds(), 10);
});

test('a silent holder loses its job after JOB_LEASE; the other node takes it over, and the old lease is void', async () => {
  const [a, b] = await nodes(2, { jobLeaseMs: 1500 }); // wide enough that a loaded machine does not expire it early
  await a.q.enqueue('job');
  const first = (await a.q.take())!;
  assert.is(first.attempt, 1);
  assert.is(await b.q.take(), null, 'held while the lease runs');
  const second = await whenReady(b.q, () => b.q.take());
  assert.is(second.sessionId, 'job');
  assert.is(second.attempt, 2);
  assert.not.ok(await a.q.renew(first));
  await a.q.complete(first, 10); // a stale holder's completion leaves the new holder's job alone
  assert.ok(await b.q.renew(second));
  await b.q.complete(second, 10);
  assert.not.ok(await b.q.renew(second));
  assert.is(await a.q.take(), null);
  assert.is(await a.q.depth(), 0);
});

test('a holder that renews keeps its job past several leases', async () => {
  const [a, b] = await nodes(2, { jobLeaseMs: 1500 });
  await a.q.enqueue('kept');
  const lease = (await a.q.take())!;
  const renews: boolean[] = [];
  const until = Date.now() + 3500;
  let stolen: unknown = null;
  while (Date.now() < until) {
    renews.push(await a.q.renew(lease));
    stolen ??= await b.q.take();
    await new Promise((r) => setTimeout(r, 100)); // the renew interval under test
  }
  assert.ok(renews.length > 5);
  assert.ok(renews.every(Boolean), `renews: ${renews}`);
  assert.is(stolen, null);
});

test('cancel from one node reaches the holder on the other through onCancel; the job is gone', async () => {
  const [a, b] = await nodes(2);
  await a.q.enqueue('c1');
  await a.q.enqueue('c2');
  const lease = (await a.q.take())!;
  const told = new Promise<string>((resolve) => a.q.onCancel(resolve));
  await b.q.cancel('c1');
  assert.is(await told, 'c1');
  assert.is(a.q.leased, 0);
  assert.not.ok(await a.q.renew(lease));
  await b.q.cancel('c2'); // a waiting job
  assert.is(await b.q.take(), null);
  assert.is(await a.q.depth(), 0);
});

test('a released job is the next one taken, on any node, with its attempt counted', async () => {
  const [a, b] = await nodes(2);
  await a.q.enqueue('r1');
  await a.q.enqueue('r2');
  const lease = (await a.q.take())!;
  const readyOnB = new Promise<void>((resolve) => b.q.onReady(resolve));
  await a.q.release(lease);
  await readyOnB;
  const again = (await b.q.take())!;
  assert.equal([again.sessionId, again.attempt], ['r1', 2]);
  assert.is((await b.q.take())!.sessionId, 'r2');
});

test('Redis stopped: commands fail fast with RedisUnavailableError; restarted: the queue goes on with what AOF kept', async () => {
  const [a] = await nodes(1);
  await a.q.enqueue('before');
  const down = new Promise<void>((resolve) => a.conn.onConnectedChange((up) => !up && resolve()));
  const stopping = redis.restart();
  await down;
  let failed: unknown = null;
  await a.q.enqueue('while-down').catch((err) => (failed = err));
  assert.instance(failed, RedisUnavailableError);
  await stopping;
  await a.conn.ready();
  const lease = await whenReady(a.q, () => a.q.take());
  assert.is(lease.sessionId, 'before');
  assert.is(await a.q.take(), null, 'nothing was queued while Redis was down');
});

test('a job completed while Redis is away is completed once it is back: its slot is free again long before its lease runs out', async () => {
  // QUEUE_LIMIT 0: room only while the one slot of the cluster is free
  const [a] = await nodes(1, { queueLimit: 0, jobLeaseMs: 60_000 });
  await a.q.enqueue('job');
  const lease = (await whenReady(a.q, () => a.q.take()))!;
  assert.is(await a.q.hasRoom(), false, 'the slot is taken');
  const down = new Promise<void>((resolve) => a.conn.onConnectedChange((up) => !up && resolve()));
  const restarting = redis.restart();
  await down;
  await a.q.complete(lease, 1000); // held until Redis is back
  await restarting;
  await a.conn.ready();
  const until = Date.now() + 10_000;
  let room = false;
  while (!room && Date.now() < until) {
    room = await a.q.hasRoom().catch(() => false);
    if (!room) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(room, 'the slot is free again');
  assert.is(await a.q.take(), null, 'the job is done, not handed out again');
});

test.run();
