// RedisConnection against a real redis-server behind a TCP proxy that can partition the two
// (every byte dropped, no socket closed): the watchdog's unanswered PING resets the connections,
// so commands fail with RedisUnavailableError and `connected` goes false instead of everything
// waiting for TCP to give up; when the path is back the connection comes back by itself. A
// stalled event loop is not taken for a silent Redis.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisUnavailableError } from '../../src/streams/errors.js';
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { cuttingProxy, type CuttingProxy } from '../helpers/proxy.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let proxy: CuttingProxy;

test.before(async () => {
  redis = await startRedis();
  proxy = await cuttingProxy(redis.port);
});

test.after(async () => {
  await proxy.close();
  await redis.stop();
});

test('a partition (nothing answers, nothing closes): commands fail and connected goes false within the watchdog timeout; healed, it reconnects', async () => {
  const conn = new RedisConnection({ url: `redis://127.0.0.1:${proxy.port}/0`, prefix: 'w:', pingEveryMs: 200, pingTimeoutMs: 600 });
  const blocked = conn.duplicate('blocked-reader');
  try {
    await conn.ready();
    await conn.client.set('k', '1');
    const changes: boolean[] = [];
    conn.onConnectedChange((up) => changes.push(up));
    // a blocked read on another connection is reset too
    const read = blocked.xread('BLOCK', 0, 'STREAMS', 'w:nothing', '$').then(() => 'answered', () => 'rejected');

    proxy.drop('everything');
    const started = Date.now();
    const failed = await Promise.race([
      conn.client.get('k').then(() => 'answered', (err: unknown) => err),
      new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000)),
    ]);
    const waited = Date.now() - started;
    assert.ok(failed instanceof Error, `the command in flight fails (${failed})`);
    assert.ok(waited < 5000, `it failed after ${waited} ms, not when TCP gave up`);
    assert.equal(changes, [false]);
    assert.is(conn.connected, false);
    assert.is(await read, 'rejected', 'the blocked read was reset');
    let refused: unknown = null;
    await conn.ready(100).catch((err) => (refused = err));
    assert.instance(refused, RedisUnavailableError);

    proxy.drop('nothing');
    await conn.ready(10_000);
    assert.is(await conn.client.get('k'), '1');
    assert.equal(changes, [false, true]);
  } finally {
    proxy.drop('nothing');
    await conn.close();
  }
});

test('an event loop stalled past the PING timeout, Redis answering meanwhile: the connections are not reset', async () => {
  const conn = new RedisConnection({ url: redis.url, prefix: 'w:', pingEveryMs: 100, pingTimeoutMs: 300 });
  try {
    await conn.ready();
    const changes: boolean[] = [];
    conn.onConnectedChange((up) => changes.push(up));
    // Right after each of the watchdog's next PINGs is sent the event loop is busy for 500 ms (in
    // the check phase): the reply waits in the socket, and the next turn runs the PING's expired
    // timer before it reads the socket.
    let stalls = 4;
    const ping = conn.client.ping.bind(conn.client) as () => Promise<string>;
    (conn.client as unknown as { ping: () => Promise<string> }).ping = () => {
      const sent = ping();
      if (stalls-- > 0) {
        setImmediate(() => {
          const until = Date.now() + 500;
          while (Date.now() < until);
        });
      }
      return sent;
    };
    while (stalls > 0) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(changes, [], 'no reset');
    assert.is(await conn.client.ping(), 'PONG');
  } finally {
    await conn.close();
  }
});

test.run();
