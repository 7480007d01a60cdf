// Redis upload locks and the cluster lock, two connections standing for two nodes: one holder
// at a time, a silent holder's lock taken over after staleMs (and the old holder can then
// neither refresh nor release it), a refreshed lock kept; cluster-once work runs on one node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisUnavailableError } from '../../src/streams/errors.js';
import { RedisClusterLock } from '../../src/streams/redis/cluster-lock.js';
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { RedisUploadLocks } from '../../src/streams/redis/upload-locks.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
const conns: RedisConnection[] = [];
let prefixN = 0;

async function twoNodes(): Promise<[RedisConnection, RedisConnection]> {
  const prefix = `l${++prefixN}:`;
  const pair = [new RedisConnection({ url: redis.url, prefix }), new RedisConnection({ url: redis.url, prefix })] as [RedisConnection, RedisConnection];
  conns.push(...pair);
  await Promise.all(pair.map((c) => c.ready()));
  return pair;
}

/** Tries `fn` every 20 ms until it gives a value (a lock's expiry is a matter of time). */
async function eventually<T>(fn: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test.before(async () => {
  redis = await startRedis();
});

test.after(async () => {
  for (const c of conns) await c.close();
  await redis.stop();
});

test('an upload lock has one holder across nodes; released, the other node takes it', async () => {
  const [a, b] = await twoNodes();
  const la = new RedisUploadLocks(a, 30_000);
  const lb = new RedisUploadLocks(b, 30_000);
  const held = (await la.acquire('up1'))!;
  assert.ok(held);
  assert.is(await lb.acquire('up1'), null);
  assert.is(await la.acquire('up1'), null, 'a second request on the same node waits too');
  assert.ok(await lb.acquire('up2'), 'other uploads are not held');
  assert.ok(await held.refresh());
  await held.release();
  assert.not.ok(await held.refresh(), 'a released lock is gone');
  const next = (await lb.acquire('up1'))!;
  assert.ok(next);
  await held.release(); // twice: does not free the new holder's lock
  assert.is(await la.acquire('up1'), null);
});

test("a silent holder's upload lock is taken over after staleMs; the old holder can neither refresh nor release it", async () => {
  const [a, b] = await twoNodes();
  // margins wide enough for a loaded machine: a holder that is merely slow is not silent
  const silent = (await new RedisUploadLocks(a, 1000).acquire('up'))!;
  const lb = new RedisUploadLocks(b, 1000);
  assert.is(await lb.acquire('up'), null);
  const taken = await eventually(() => lb.acquire('up'));
  assert.not.ok(await silent.refresh());
  await silent.release();
  assert.is(await new RedisUploadLocks(a, 1000).acquire('up'), null, 'still the new holder’s');
  assert.ok(await taken.refresh());
});

test('a holder that refreshes keeps its upload lock past staleMs', async () => {
  const [a, b] = await twoNodes();
  const held = (await new RedisUploadLocks(a, 1500).acquire('kept'))!;
  const lb = new RedisUploadLocks(b, 1500);
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    assert.ok(await held.refresh());
    assert.is(await lb.acquire('kept'), null);
    await new Promise((r) => setTimeout(r, 50)); // the refresh interval under test
  }
});

test('cluster-once work runs on one node at a time, also when it outlasts the ttl', async () => {
  const [a, b] = await twoNodes();
  const ca = new RedisClusterLock(a);
  const cb = new RedisClusterLock(b);
  let finish!: () => void;
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const ranOnA = ca.tryRun('sweep', 1500, async () => {
    started();
    await new Promise<void>((r) => (finish = r));
  });
  await running;
  // well past the ttl: the running node refreshes the lock
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    assert.not.ok(await cb.tryRun('sweep', 1500, async () => assert.unreachable('ran twice')));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(await cb.tryRun('other', 200, async () => {}), 'other names are free');
  finish();
  assert.ok(await ranOnA);
  assert.ok(await eventually(async () => ((await cb.tryRun('sweep', 200, async () => {})) ? true : null)));
});

test('Redis away: acquiring rejects with RedisUnavailableError, release does not reject; back, locks work again', async () => {
  const [a] = await twoNodes();
  const locks = new RedisUploadLocks(a, 30_000);
  const held = (await locks.acquire('r'))!;
  const down = new Promise<void>((resolve) => a.onConnectedChange((up) => !up && resolve()));
  const restarting = redis.restart();
  await down;
  await locks.acquire('r2').then(
    () => assert.unreachable('acquired without Redis'),
    (err) => assert.instance(err, RedisUnavailableError),
  );
  await held.release();
  await restarting;
  await a.ready();
  assert.ok(await locks.acquire('r'), 'the restarted Redis has no persistence: the lock is gone');
});

test.run();
