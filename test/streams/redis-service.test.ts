// The Redis store, queue and locks under the real VideoService and scheduler, in one process:
// an API node (runs no jobs) and workers on one redis-server and one DATA_DIR, the real engine
// on generated videos. A session uploaded on the API node runs on a worker and is followed
// live on the API node; a worker whose connections drop mid-job loses it to another after
// JOB_LEASE (each segment once, the take-over in the log); Redis restarted mid-job: the job
// goes on and every event reaches the follower once, in order. (test/cluster runs the same
// with real processes.)
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { firstValueFrom, toArray } from 'rxjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine } from '../../src/engine/index.js';
import { UploadLimitError } from '../../src/streams/errors.js';
import type { SessionEvent } from '../../src/streams/events.js';
import { RedisClusterLock } from '../../src/streams/redis/cluster-lock.js';
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { RedisJobQueue } from '../../src/streams/redis/job-queue.js';
import { RedisSessionStore } from '../../src/streams/redis/session-store.js';
import { RedisUploadLocks } from '../../src/streams/redis/upload-locks.js';
import { RedisWebhookStore } from '../../src/streams/redis/webhook-store.js';
import { VideoService } from '../../src/streams/service.js';
import type { Session } from '../../src/streams/session.js';
import { makeTestVideo } from '../helpers/media.js';
import { suspendContractChecks } from '../helpers/contract.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';

// no requests to the service's API here: the services' own webhook POSTs are not API answers
suspendContractChecks();

let redis: TestRedis;
let dir: string;
let video: string;
const engine = createEngine({});
const running: Array<{ svc: VideoService; conn: RedisConnection }> = [];
const dataDirs: string[] = [];
let prefixN = 0;

async function node(prefix: string, dataDir: string, nodeId: string, runJobs: boolean, jobLeaseMs: number, extra: { webhookClaimMs?: number; maxOpenUploads?: number } = {}) {
  const conn = new RedisConnection({ url: redis.url, prefix });
  await conn.ready();
  const svc = new VideoService(engine, {
    dataDir,
    concurrency: 1,
    queueLimit: 8,
    ttlMs: 3_600_000,
    maxOpenUploads: extra.maxOpenUploads ?? 10,
    jobLeaseMs,
    runJobs,
    role: runJobs ? 'worker' : 'api',
    webhooks: { defaultUrl: null, secret: null, retryBaseMs: 200, maxAgeMs: 60_000 },
    backend: {
      store: new RedisSessionStore(conn, { nodeId, dataDir, retryWindowMs: jobLeaseMs }),
      queue: new RedisJobQueue(conn, { nodeId, concurrency: runJobs ? 1 : 0, queueLimit: 8, jobLeaseMs }),
      uploadLocks: new RedisUploadLocks(conn, 5000),
      clusterLock: new RedisClusterLock(conn),
      webhooks: new RedisWebhookStore(conn, { send: !runJobs, claimMs: extra.webhookClaimMs }),
      nodeId,
      connected: () => conn.connected,
      close: () => conn.close(),
    },
  });
  await svc.start();
  const n = { svc, conn };
  running.push(n);
  return n;
}

async function cluster(jobLeaseMs: number) {
  const prefix = `v${++prefixN}:`;
  const dataDir = tempDir('vas-redis-svc-');
  dataDirs.push(dataDir);
  return { prefix, dataDir, api: await node(prefix, dataDir, 'api1', false, jobLeaseMs), worker: await node(prefix, dataDir, 'worker1', true, jobLeaseMs) };
}

async function uploadOn(svc: VideoService, webhookUrl?: string): Promise<Session> {
  const incoming = svc.receiveFile();
  incoming.writer.write(fs.readFileSync(video));
  await incoming.writer.finish();
  const webhook = webhookUrl ? { url: webhookUrl, base: 'http://video.example' } : null;
  return svc.createFromFile(incoming, { analysisType: 'highlights', params: { ...svc.validate('highlights', {}) }, filename: 'v.mp4', webhook });
}

/** Stops a node as if it died: its connections go, its webhook attempt in flight is dropped. */
async function stopNode(n: { svc: VideoService; conn: RedisConnection }) {
  running.splice(running.indexOf(n), 1);
  await n.svc.shutdown();
  await n.conn.close();
}

/** A webhook receiver that answers its n-th request (1-based) after `delay(n)` ms (Infinity: never). */
async function receiver(delay: (n: number) => number = () => 0) {
  const got: Array<{ id: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ id: String(req.headers['webhook-id']), body });
      const ms = delay(got.length);
      if (ms < Infinity) setTimeout(() => res.writeHead(204).end(), ms);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, close: () => server.closeAllConnections() ?? server.close() };
}

/** The session's webhook as the status shows it, once delivered (it is recorded after the answer). */
async function delivered(svc: VideoService, id: string) {
  let view = (await svc.status(id))!.webhook;
  for (let i = 0; i < 200 && view?.state !== 'delivered'; i++) {
    await new Promise((r) => setTimeout(r, 25));
    view = (await svc.status(id))!.webhook;
  }
  assert.is(view?.state, 'delivered', JSON.stringify(view));
  return view!;
}

async function until(what: string, f: () => boolean, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The session's end, or a failure after 120 s (a job nobody takes would otherwise hang the file). */
function ended(svc: VideoService, session: Session) {
  return new Promise<Awaited<ReturnType<VideoService['waitForEnd']>>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`session still ${session.state.status} at seq ${session.lastSeq}`)), 120_000);
    svc.waitForEnd(session).then((st) => {
      clearTimeout(t);
      resolve(st);
    }, reject);
  });
}

const seqsOk = (events: SessionEvent[]) => events.every((e, i) => e.seq === i + 1);
const segmentIndexes = (events: SessionEvent[]) => events.filter((e) => e.type === 'segment').map((e) => e.data.index as number);

test.before(async () => {
  redis = await startRedis({ appendonly: 'everysec' });
  dir = tempDir('vas-redis-svc-video-');
  video = await makeTestVideo(dir, { seconds: 60, name: 'long.mp4' });
});

test.after(async () => {
  for (const n of running.reverse()) {
    await n.svc.shutdown();
    await n.conn.close();
  }
  await redis.stop();
  for (const d of [dir, ...dataDirs]) fs.rmSync(d, { recursive: true, force: true });
});

test('uploaded on the API node, run on the worker, followed live on the API node: one log on both, the result readable', async () => {
  const { api, worker } = await cluster(15_000);
  const session = await uploadOn(api.svc);
  const seen: SessionEvent[] = [];
  session.eventsSince(0).subscribe((e) => seen.push(e));
  const end = await ended(api.svc, session);
  assert.is(end.status, 'completed', JSON.stringify(end.error));
  assert.ok(seqsOk(seen));
  assert.equal(seen, session.history());
  // the worker's replica applies its last write when Redis answers it, which may come after the API node read it
  const onWorker = await firstValueFrom((await worker.svc.get(session.id))!.eventsSince(0).pipe(toArray()));
  assert.equal(onWorker, session.history());
  const result = JSON.parse((await api.svc.resultJson(session.id))!);
  assert.is(result.analysis_type, 'highlights');
  assert.is(segmentIndexes(seen).length, result.total_segments_analyzed);
});

test('a worker cut off mid-job loses it after JOB_LEASE to another worker: each segment once, the take-over in the log', async () => {
  const { prefix, dataDir, api, worker } = await cluster(2000);
  const session = await uploadOn(api.svc);
  const seen: SessionEvent[] = [];
  let second: Promise<unknown> | null = null;
  session.eventsSince(0).subscribe((e) => {
    seen.push(e);
    // the first worker's connections drop for good (its engine goes on, writing into nothing)
    if (e.type === 'segment' && !second) second = worker.conn.close().then(() => node(prefix, dataDir, 'worker2', true, 2000));
  });
  const end = await ended(api.svc, session);
  await second;
  assert.is(end.status, 'completed', JSON.stringify(end.error));
  assert.ok(seqsOk(seen));
  const indexes = segmentIndexes(seen);
  assert.equal(indexes, [...new Set(indexes)].sort((a, b) => a - b), `segments: ${indexes}`);
  assert.equal(
    seen.filter((e) => e.data.attempt !== undefined).map((e) => e.data.attempt),
    [2],
  );
});

test('Redis restarted mid-job: the job goes on, and every event reaches the follower once, in order', async () => {
  const { api } = await cluster(15_000);
  const session = await uploadOn(api.svc);
  const seen: SessionEvent[] = [];
  let restarted: Promise<void> | null = null;
  session.eventsSince(0).subscribe((e) => {
    seen.push(e);
    if (e.type === 'segment' && !restarted) restarted = redis.restart();
  });
  const end = await ended(api.svc, session);
  await restarted;
  assert.is(end.status, 'completed', JSON.stringify(end.error));
  assert.ok(seqsOk(seen));
  const indexes = segmentIndexes(seen);
  assert.equal(indexes, [...new Set(indexes)].sort((a, b) => a - b));
  assert.not.ok(seen.some((e) => e.data.attempt !== undefined), 'no take-over');
  assert.equal(seen, session.history());
});

test('a webhook whose session ends after the API node that created it is gone is sent by another API node, once', async () => {
  const rx = await receiver();
  try {
    const prefix = `v${++prefixN}:`;
    const dataDir = tempDir('vas-redis-svc-');
    dataDirs.push(dataDir);
    // queued on A while no worker runs; A is gone before the session ends, so A never records its delivery
    const a = await node(prefix, dataDir, 'apiA', false, 15_000);
    const id = (await uploadOn(a.svc, rx.url)).id;
    await stopNode(a);
    const b = await node(prefix, dataDir, 'apiB', false, 15_000);
    await node(prefix, dataDir, 'worker1', true, 15_000);
    const end = await ended(b.svc, (await b.svc.get(id))!);
    assert.is(end.status, 'completed', JSON.stringify(end.error));
    await until('the delivery', () => rx.got.length > 0);
    assert.equal(JSON.parse(rx.got[0].body), { sessionId: id, status: 'completed', resultsUrl: `http://video.example/api/v1/video/results/${id}`, error: null });
    assert.match(rx.got[0].id, /^whd_/);
    const view = await delivered(b.svc, id);
    assert.is(view.deliveryId, rx.got[0].id);
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(rx.got.length, 1, 'sent once');
  } finally {
    rx.close();
  }
});

test('two API nodes: a delivery is sent once; one whose sender died mid-attempt is sent by the other after its claim, with the same id', async () => {
  // the first attempt hangs: its sender (A) dies with it in flight; the third is answered slowly,
  // so the other node's polls see it due while it is in flight
  const rx = await receiver((n) => (n === 1 ? Infinity : n === 3 ? 1500 : 0));
  try {
    const prefix = `v${++prefixN}:`;
    const dataDir = tempDir('vas-redis-svc-');
    dataDirs.push(dataDir);
    const a = await node(prefix, dataDir, 'apiA', false, 15_000, { webhookClaimMs: 1500 });
    await node(prefix, dataDir, 'worker1', true, 15_000);
    const session = await uploadOn(a.svc, rx.url);
    await ended(a.svc, session);
    await until('the first attempt', () => rx.got.length === 1);
    await stopNode(a);
    const b = await node(prefix, dataDir, 'apiB', false, 15_000, { webhookClaimMs: 1500 });
    await until('the attempt after the claim ran out', () => rx.got.length === 2);
    assert.is(rx.got[1].id, rx.got[0].id, 'the same delivery id');
    assert.is(rx.got[1].body, rx.got[0].body);
    const view = await delivered(b.svc, session.id);
    assert.is(view.attempts, 1, "the dead node's attempt is not counted");

    // with both API nodes up, a second session's delivery is sent once
    const c = await node(prefix, dataDir, 'apiC', false, 15_000, { webhookClaimMs: 1500 });
    const next = await uploadOn(c.svc, rx.url);
    await ended(c.svc, next);
    await until('the second delivery', () => rx.got.length === 3);
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(rx.got.length, 3, 'sent once');
    assert.is(JSON.parse(rx.got[2].body).sessionId, next.id);
  } finally {
    rx.close();
  }
});

test('MAX_OPEN_UPLOADS counts the unfinished tus uploads of the whole cluster', async () => {
  const prefix = `v${++prefixN}:`;
  const dataDir = tempDir('vas-redis-svc-');
  dataDirs.push(dataDir);
  const a = await node(prefix, dataDir, 'apiA', false, 15_000, { maxOpenUploads: 2 });
  const b = await node(prefix, dataDir, 'apiB', false, 15_000, { maxOpenUploads: 2 });
  const spec = { analysisType: 'highlights' as const, params: {}, filename: null, uploadLength: 100 };
  await a.svc.createUploading(spec);
  const second = await b.svc.createUploading(spec);
  let refused: unknown = null;
  await a.svc.createUploading(spec).catch((err) => (refused = err));
  assert.instance(refused, UploadLimitError);
  // one finished (here: cancelled) anywhere makes room everywhere
  assert.ok((await a.svc.cancel(second.id)).ok);
  await b.svc.createUploading(spec);
});

test.run();
