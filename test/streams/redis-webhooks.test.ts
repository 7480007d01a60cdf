// Webhooks over the Redis store and schedule against a real redis-server and a real receiver: a
// session that ends while the node that claims its delivery holds a copy of it that has not heard
// of the end (its reader is down) is not given up: the claim brings it round again, and it is
// sent once the copy is current.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { RedisSessionStore } from '../../src/streams/redis/session-store.js';
import { RedisWebhookStore } from '../../src/streams/redis/webhook-store.js';
import type { Session } from '../../src/streams/session.js';
import { Webhooks } from '../../src/streams/webhooks.js';
import { suspendContractChecks } from '../helpers/contract.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';

// no requests to the service's API here: the webhook POSTs are not API answers
suspendContractChecks();

let redis: TestRedis;
let dataDir: string;
const open: Array<{ close(): Promise<void> }> = [];

test.before(async () => {
  redis = await startRedis();
  dataDir = tempDir('vas-redis-webhooks-');
});

test.after(async () => {
  for (const c of open.reverse()) await c.close();
  await redis.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function store(node: string) {
  const conn = new RedisConnection({ url: redis.url, prefix: 'wh:' });
  await conn.ready();
  const s = new RedisSessionStore(conn, { nodeId: node, dataDir, retryWindowMs: 5000 });
  open.push(conn, s);
  await s.listening;
  return { conn, store: s };
}

test('a due delivery whose session this node still sees running is sent once its copy shows the end', async () => {
  const got: string[] = [];
  const rx = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
  try {
    const a = await store('a');
    const b = await store('b');
    const s = await a.store.create({ analysisType: 'highlights', params: {}, filename: null, webhook: { url, base: 'http://video.example' } }, 'pending');
    await s.transition('processing');
    // B's copy, frozen before the end: its store (and reader) closed
    const stale = (await b.store.get(s.id))!;
    await b.store.close();
    await s.transition('completed', { results: null });

    let current = false; // until then B's lookups answer with the frozen copy
    const sender = new RedisWebhookStore(b.conn, { send: true, claimMs: 400, pollMs: 50 });
    const webhooks = new Webhooks(sender, sender, {
      secret: null,
      retryBaseMs: 100,
      maxAgeMs: 60_000,
      session: async (id): Promise<Session | undefined> => (current ? a.store.get(id) : id === s.id ? stale : undefined),
    });
    webhooks.start();
    try {
      await new Promise((r) => setTimeout(r, 600)); // claimed at least once while the copy was stale
      assert.is(got.length, 0, 'nothing sent for a session that looks running');
      current = true;
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      assert.is(got.length, 1, 'sent once the copy shows the end');
      assert.equal(JSON.parse(got[0]), { sessionId: s.id, status: 'completed', resultsUrl: `http://video.example/api/v1/video/results/${s.id}`, error: null });
      await new Promise((r) => setTimeout(r, 600));
      assert.is(got.length, 1, 'once');
    } finally {
      webhooks.stop();
    }
  } finally {
    rx.close();
  }
});

test.run();
