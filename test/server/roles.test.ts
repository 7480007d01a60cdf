// ROLE and REDIS_URL on real processes sharing one redis-server and one DATA_DIR: a worker
// serves only /health and /metrics and runs the analyses an api node accepts; /health and
// /metrics show the role and the Redis connection; while Redis is away the api node answers
// 503 unavailable with Retry-After, /health says degraded, nothing crashes, and it serves again
// once Redis is back.
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { getJson, isTerminalStatus, pollStatus, spawnServer, tempDir, upload, type ChildServer } from '../helpers/server.js';

let dir: string;
let clip: string;
let redis: TestRedis;
let api: ChildServer;
let worker: ChildServer;

const stopChild = async (s: ChildServer) => {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    s.proc.kill('SIGTERM');
    await s.exited;
  }
};

/** Polls `read` until `ok` holds (condition, not a fixed wait). */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

test.before(async () => {
  dir = tempDir('vas-roles-');
  clip = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: true, name: 'clip.mp4' });
  // its own folder, kept across the stop and restart below (what AOF stored survives)
  redis = await startRedis({ appendonly: 'always', dir: tempDir('vas-roles-redis-') });
  const dataDir = tempDir('vas-roles-data-');
  const common = { DATA_DIR: dataDir, REDIS_URL: redis.url, REDIS_PREFIX: 'roles:', JOB_LEASE: '3s' };
  api = await spawnServer({ ...common, ROLE: 'api', NODE_ID: 'api-1' });
  worker = await spawnServer({ ...common, ROLE: 'worker', NODE_ID: 'worker-1' });
});

test.after(async () => {
  await Promise.all([api, worker].filter(Boolean).map(stopChild));
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a worker serves only /health and /metrics, with its role and the Redis connection', async () => {
  const h = await getJson(`${worker.url}/health`);
  assert.is(h.status, 200);
  assert.is(h.body.role, 'worker');
  assert.equal(h.body.redis, { connected: true });
  assert.match(worker.output(), /listening on http:\/\//, 'the same listening line as any node');
  const metrics = await (await fetch(`${worker.url}/metrics`)).text();
  assert.match(metrics, /^vas_role\{role="worker"\} 1$/m);
  assert.match(metrics, /^vas_redis_connected 1$/m);
  for (const path of ['/api/v1/video/sessions', `/api/v1/video/status/${'x'.repeat(21)}`]) {
    assert.is((await getJson(`${worker.url}${path}`)).status, 404, path);
  }
});

test('an api node accepts the upload, the worker runs it; the api node ran nothing itself', async () => {
  const up = await upload(`${api.url}/api/v1/video/upload`, clip);
  assert.is(up.status, 202, JSON.stringify(up.body));
  const end = await pollStatus(api.url, up.body.sessionId, isTerminalStatus, 60_000);
  assert.is(end.status, 'completed', JSON.stringify(end));
  const results = await getJson(`${api.url}/api/v1/video/results/${up.body.sessionId}`);
  assert.is(results.status, 200);
  // the cluster's counts are read at most once a second
  const h = await until(() => getJson(`${api.url}/health`), (r) => r.body?.sessions >= 1, 'the session in the cluster count');
  assert.is(h.body.role, 'api');
  assert.is(h.body.queue.running, 0);
  const apiMetrics = await (await fetch(`${api.url}/metrics`)).text();
  assert.not.match(apiMetrics, /^video_jobs_total\{outcome="started"\} [1-9]/m, 'the api node started no analysis');
  const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
  assert.match(workerMetrics, /^video_jobs_total\{outcome="completed"\} [1-9]/m, 'the worker ran it');
});

test('Redis away: 503 unavailable with Retry-After, /health degraded, no crash; back by itself once Redis returns', async () => {
  const up = await upload(`${api.url}/api/v1/video/upload`, clip);
  assert.is(up.status, 202);
  const id = up.body.sessionId;
  await pollStatus(api.url, id, isTerminalStatus, 60_000);
  await redis.stop();
  const h = await until(() => getJson(`${api.url}/health`), (r) => r.body?.redis?.connected === false, '/health to see Redis gone');
  assert.is(h.status, 200);
  assert.is(h.body.status, 'degraded');
  assert.ok(h.body.problems.some((p: string) => /redis/i.test(p)), JSON.stringify(h.body.problems));
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  assert.match(metrics, /^vas_redis_connected 0$/m);
  // A session this node has not loaded needs Redis: 503 with Retry-After.
  const unknown = await getJson(`${api.url}/api/v1/video/sessions`);
  assert.is(unknown.status, 503, JSON.stringify(unknown.body));
  assert.is(unknown.body.error.code, 'unavailable');
  assert.ok(Number(unknown.headers.get('retry-after')) >= 1);
  const refused = await upload(`${api.url}/api/v1/video/upload`, clip);
  assert.is(refused.status, 503, JSON.stringify(refused.body));
  assert.is(refused.body.error.code, 'unavailable');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.is((await getJson(`${worker.url}/health`)).body.status, 'degraded');

  await redis.restart();
  await until(() => getJson(`${api.url}/health`), (r) => r.body?.status === 'healthy', '/health healthy again');
  assert.is((await getJson(`${api.url}/api/v1/video/status/${id}`)).status, 200);
  const again = await upload(`${api.url}/api/v1/video/upload`, clip);
  assert.is(again.status, 202, JSON.stringify(again.body));
  assert.is((await pollStatus(api.url, again.body.sessionId, isTerminalStatus, 60_000)).status, 'completed');
  assert.is(api.proc.exitCode, null, 'the api node is still running');
  assert.is(worker.proc.exitCode, null, 'the worker is still running');
});

test.run();
