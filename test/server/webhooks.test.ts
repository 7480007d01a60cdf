// Webhooks against a real local HTTP receiver: signed deliveries, retried with backoff through
// failures, one stable delivery id, the last attempt in the status object, deliveries that
// survive a restart, WEBHOOK_URL as the default, bad webhook_url refused.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { TEST_STORE, getJson, isTerminalStatus, pollStatus, spawnServer, storeEnv, tempDir, upload, type ChildServer } from '../helpers/server.js';

const SECRET = 'whsec_test_0123456789';
let dir: string;
let video: string;
const started: ChildServer[] = [];

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A receiver that answers `plan(n)` to its n-th request (1-based). */
async function receiver(plan: (n: number) => number): Promise<{ url: string; got: Received[]; close(): void; setPlan(p: (n: number) => number): void }> {
  const got: Received[] = [];
  let current = plan;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const answered = current(got.length + 1);
      got.push({ at: Date.now(), headers: req.headers, body, answered });
      res.writeHead(answered, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hooks/video`, got, close: () => server.close(), setPlan: (p) => (current = p) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = f();
    if (v) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The sessions whose deliveries the servers on dataDir store: files under DATA_DIR/webhooks, or in Redis. */
async function storedDeliveries(dataDir: string): Promise<string[]> {
  if (TEST_STORE === 'journal') {
    const files = fs.existsSync(`${dataDir}/webhooks`) ? fs.readdirSync(`${dataDir}/webhooks`) : [];
    return files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  }
  const { REDIS_URL, REDIS_PREFIX } = await storeEnv(dataDir);
  const redis = new Redis(REDIS_URL);
  try {
    return await redis.hkeys(`${REDIS_PREFIX}webhooks`);
  } finally {
    redis.disconnect();
  }
}

function verify(r: Received): void {
  const sig = String(r.headers['webhook-signature']);
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
  assert.ok(m, `signature header: ${sig}`);
  const expected = createHmac('sha256', SECRET).update(`${m![1]}.${r.body}`).digest('hex');
  assert.is(m![2], expected, 'HMAC-SHA256 over "<t>.<body>"');
  assert.ok(Math.abs(Number(m![1]) - Date.now() / 1000) < 60, 'a current timestamp');
}

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 3, name: 'clip.mp4' });
});
test.after(() => {
  for (const s of started) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a delivery fails twice, is retried with backoff, arrives signed with one delivery id', async () => {
  const rx = await receiver((n) => (n <= 2 ? 500 : 200));
  const dataDir = tempDir('vas-wh-');
  const srv = await spawnServer({ DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE: '300ms' });
  started.push(srv);
  try {
    const up = await upload(`${srv.url}/api/v1/video/upload`, video, { webhook_url: rx.url });
    assert.is(up.status, 202, JSON.stringify(up.body));
    const id = up.body.sessionId;
    await until('three attempts', () => rx.got.length >= 3);
    const [a, b, c] = rx.got;
    for (const r of rx.got) verify(r);
    const ids = new Set(rx.got.map((r) => r.headers['webhook-id']));
    assert.is(ids.size, 1, 'the same delivery id on every attempt');
    assert.match(String(a.headers['webhook-id']), /^whd_/);
    assert.is(a.body, c.body, 'the same body on every attempt');
    const body = JSON.parse(c.body);
    assert.equal(body, { sessionId: id, status: 'completed', resultsUrl: `${srv.url}/api/v1/video/results/${id}`, error: null });
    assert.is((await getJson(body.resultsUrl)).status, 200, 'the results URL works');
    // exponential: ~300 ms, then ~600 ms (with ±10 % jitter)
    assert.ok(b.at - a.at >= 250, `first retry after ${b.at - a.at} ms`);
    assert.ok(c.at - b.at >= 500, `second retry after ${c.at - b.at} ms`);

    const st = await pollStatus(srv.url, id, (s) => s.webhook?.state === 'delivered');
    assert.is(st.webhook.deliveryId, a.headers['webhook-id']);
    assert.is(st.webhook.attempts, 3);
    assert.is(st.webhook.lastAttempt.statusCode, 200);
    assert.is(st.webhook.lastAttempt.error, null);
    await sleep(500);
    assert.is(rx.got.length, 3, 'nothing after the success');
    // the delivery's record goes with the session
    assert.equal(await storedDeliveries(dataDir), [id]);
    assert.is((await getJson(`${srv.url}/api/v1/video/cleanup/${id}`, { method: 'DELETE' })).status, 200);
    assert.equal(await storedDeliveries(dataDir), []);
  } finally {
    rx.close();
  }
});

test('deliveries survive a restart; the status shows the last failed attempt meanwhile', async () => {
  const rx = await receiver(() => 503);
  const dataDir = tempDir('vas-wh-restart-');
  const env = { DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE: '400ms' };
  const first = await spawnServer(env);
  started.push(first);
  try {
    const up = await upload(`${first.url}/api/v1/video/upload`, video, { webhook_url: rx.url });
    const id = up.body.sessionId;
    await until('a first attempt', () => rx.got.length >= 1);
    const st = await pollStatus(first.url, id, (s) => s.webhook?.attempts >= 1);
    assert.is(st.webhook.state, 'pending');
    assert.is(st.webhook.lastAttempt.statusCode, 503);
    assert.is(st.webhook.lastAttempt.error, 'HTTP 503');
    assert.type(st.webhook.nextAttemptAt, 'string');
    first.proc.kill('SIGTERM');
    assert.is(await first.exited, 0);
    assert.equal(await storedDeliveries(dataDir), [id], 'stored (under DATA_DIR, or in Redis)');
    const before = rx.got.length;

    rx.setPlan(() => 204);
    const second = await spawnServer(env);
    started.push(second);
    await until('the delivery after the restart', () => rx.got.find((r) => r.answered === 204));
    const ok = rx.got.find((r) => r.answered === 204)!;
    verify(ok);
    assert.ok(rx.got.length > before);
    assert.is(ok.headers['webhook-id'], rx.got[0].headers['webhook-id'], 'same delivery id across the restart');
    const fin = await pollStatus(second.url, id, (s) => s.webhook?.state === 'delivered');
    assert.is(fin.webhook.lastAttempt.statusCode, 204);
    second.proc.kill('SIGTERM');
    await second.exited;
  } finally {
    rx.close();
  }
});

test('WEBHOOK_URL is the default; failed and cancelled sessions are delivered too; bad webhook_url is a 400', async () => {
  const rx = await receiver(() => 200);
  const srv = await spawnServer({ DATA_DIR: tempDir('vas-wh-default-'), WEBHOOK_URL: rx.url });
  started.push(srv);
  try {
    const api = `${srv.url}/api/v1/video`;
    for (const bad of ['ftp://example.com/x', 'not a url', 'javascript:alert(1)', '/relative/path']) {
      const r = await upload(`${api}/upload`, video, { webhook_url: bad });
      assert.is(r.status, 400, bad);
      assert.is(r.body.error.code, 'bad_request');
      assert.match(r.body.error.message, /webhook_url/);
    }
    const up = await upload(`${api}/upload`, video);
    await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
    const got = await until('the default delivery', () => rx.got.find((r) => JSON.parse(r.body).sessionId === up.body.sessionId));
    assert.is(got.headers['webhook-signature'], undefined, 'unsigned without WEBHOOK_SECRET');

    // a tus upload of bytes that are not a video fails: the failure is delivered with its error
    const create = await fetch(`${srv.url}/api/v1/video/uploads`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '64' } });
    const loc = new URL(create.headers.get('location')!, srv.url).href;
    await fetch(loc, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: Buffer.alloc(64, 1) });
    const tusId = loc.split('/').pop()!;
    const failed = await until('the failure delivery', () => rx.got.map((r) => JSON.parse(r.body)).find((b) => b.sessionId === tusId));
    assert.is(failed.status, 'failed');
    assert.is(failed.resultsUrl, null);
    assert.is(failed.error.code, 'unsupported_media');
  } finally {
    rx.close();
  }
});

test.run();
