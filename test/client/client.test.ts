// The typed client (client/src) against the real server over real sockets: multipart and tus
// uploads (tus resumed after a stop), following a session over WebSocket (Node) and SSE (the
// browser transport, here with the eventsource package) through drops of the network, results,
// list, cancel, cleanup, and its errors.
import fs from 'node:fs';
import { EventSource } from 'eventsource';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiError, SessionEndedError, VideoClient, sseTransport, type ClientEvent, type HighlightsResult, type WorkoutResult } from '../../client/src/node.js';
import { makeTestVideo } from '../helpers/media.js';
import { cuttingProxy, type CuttingProxy } from '../helpers/proxy.js';
import { getJson, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let proxy: CuttingProxy;
let dir: string;
let video: string;
let longVideo: string;
let client: VideoClient;

test.before(async () => {
  dir = tempDir();
  [video, longVideo] = await Promise.all([
    makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: true }),
    makeTestVideo(dir, { seconds: 30, width: 480, height: 270, audio: true, name: 'long.mp4' }),
  ]);
  srv = await startTestServer({ ENGINE_CONCURRENCY: '2' });
  proxy = await cuttingProxy(srv.port);
  client = new VideoClient({ baseUrl: srv.url });
});
test.after(async () => {
  proxy.close();
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const assertGapless = (evs: ClientEvent[]) => evs.forEach((e, i) => assert.is(e.seq, i + 1, `event ${i} has seq ${e.seq}`));

test('multipart upload from a path, waitForResults over WebSocket: the same results as REST', async () => {
  const up = await client.upload(video, { analysisType: 'highlights', params: { min_significance: 3 } });
  assert.match(up.sessionId, /^[A-Za-z0-9_-]{21}$/);
  assert.is(up.links.results, `/api/v1/video/results/${up.sessionId}`);
  const events: ClientEvent[] = [];
  const results = await client.waitForResults<HighlightsResult>(up.sessionId, { onEvent: (e) => events.push(e) });
  assert.is(results.analysis_type, 'highlights');
  assert.is(results.settings.min_significance, 3);
  assertGapless(events);
  assert.is(events.at(-1)!.type, 'completed');
  const rest = await getJson(`${srv.url}/api/v1/video/results/${up.sessionId}`);
  assert.equal(results, rest.body.results);
  const st = await client.status(up.sessionId);
  assert.is(st.status, 'completed');
  assert.is(st.filename, 'test_4s_320x240_25_a.mp4');
});

test('following over WebSocket resumes after the network drops: every event once, in order', async () => {
  const c = new VideoClient({ baseUrl: proxy.url });
  const up = await c.upload(longVideo);
  const events: ClientEvent[] = [];
  const states: string[] = [];
  let cuts = 0;
  const following = c.follow(up.sessionId, {
    onEvent: (e) => {
      events.push(e);
      // Cut the connection twice while the analysis streams.
      if (e.type === 'progress' && cuts < 2 && events.filter((x) => x.type === 'progress').length % 3 === 1) cuts += proxy.cut() > 0 ? 1 : 0;
    },
    onConnection: (s) => states.push(s),
  });
  const end = await following.done;
  assert.is(end.type, 'completed');
  assert.ok(cuts >= 1, 'the connection was cut');
  assert.ok(states.filter((s) => s === 'reconnecting').length >= cuts, states.join(','));
  assertGapless(events);
  // The same log as a reader that was never cut.
  const whole: ClientEvent[] = [];
  await client.follow(up.sessionId, { onEvent: (e) => whole.push(e) }).done;
  assert.equal(events, whole);
});

test('following over SSE (the browser transport) resumes with Last-Event-ID after drops', async () => {
  const c = new VideoClient({ baseUrl: proxy.url, transport: sseTransport(EventSource as unknown as typeof globalThis.EventSource) });
  const up = await client.upload(longVideo, { analysisType: 'workout' });
  const events: ClientEvent[] = [];
  let cuts = 0;
  const results = await c.waitForResults<WorkoutResult>(up.sessionId, {
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'progress' && cuts < 2 && events.filter((x) => x.type === 'progress').length % 3 === 1) cuts += proxy.cut() > 0 ? 1 : 0;
    },
  });
  assert.ok(cuts >= 1);
  assert.is(results.analysis_type, 'workout_with_timestamps');
  assertGapless(events);
  const segments = events.filter((e) => e.type === 'segment').map((e) => e.data);
  assert.equal(segments.sort((a: any, b: any) => a.index - b.index), results.segment_analyses as unknown[]);
});

test('tus upload from a path, stopped half-way and resumed at the server\'s offset', async () => {
  const size = fs.statSync(longVideo).size;
  let sessionId = '';
  const progress: number[] = [];
  let h = client.tusUpload(longVideo, {
    analysisType: 'highlights',
    onSessionId: (id) => (sessionId = id),
    onProgress: (sent) => progress.push(sent),
    tus: { chunkSize: 64 * 1024 },
  });
  h.start();
  while (!progress.some((p) => p >= size / 3)) await new Promise((r) => setTimeout(r, 10));
  await h.abort();
  const st = await client.status(sessionId);
  assert.is(st.status, 'uploading');
  const offset = st.upload!.receivedBytes;
  assert.ok(offset > 0 && offset < size, `stopped at ${offset} of ${size}`);

  // A new handle on the same upload URL continues where the server is.
  const resumed: number[] = [];
  h = client.tusUpload(longVideo, { onProgress: (sent) => resumed.push(sent), tus: { chunkSize: 64 * 1024, uploadUrl: `${srv.url}/api/v1/video/uploads/${sessionId}` } });
  h.start();
  assert.is(await h.done, sessionId);
  assert.ok(resumed[0] >= offset, `resumed at ${resumed[0]}, not from 0`);
  const results = await client.waitForResults(sessionId);
  assert.is(results.analysis_type, 'highlights');
});

test('list, cancel, cleanup, and errors as ApiError / SessionEndedError', async () => {
  const up = await client.upload(longVideo);
  const page = await client.list({ limit: 2 });
  assert.ok(page.sessions.length <= 2);
  assert.is(page.sessions[0].sessionId, up.sessionId, 'newest first');
  const all: string[] = [];
  for await (const s of client.listAll({ pageSize: 2 })) all.push(s.sessionId);
  assert.is(all[0], up.sessionId);
  assert.is(new Set(all).size, all.length);

  const waiting = client.waitForResults(up.sessionId);
  assert.equal(await client.cancel(up.sessionId), { sessionId: up.sessionId, status: 'cancelled' });
  const err = await waiting.then(() => null, (e) => e);
  assert.instance(err, SessionEndedError);
  assert.is(err.status, 'cancelled');
  assert.equal(await client.cleanup(up.sessionId), { sessionId: up.sessionId, message: 'Session cleaned up' });

  const missing = await client.status(up.sessionId).then(() => null, (e) => e);
  assert.instance(missing, ApiError);
  assert.is(missing.status, 404);
  assert.is(missing.code, 'not_found');
  const gone = await client.follow(up.sessionId).done.then(() => null, (e) => e);
  assert.instance(gone, ApiError, 'following a session that does not exist fails instead of retrying forever');
  const busy = await client.results('V1StGXR8_Z5jdHi6B-myT').then(() => null, (e) => e);
  assert.is(busy.status, 404);
});

test('following after the last event of an ended session stops instead of waiting forever', async () => {
  const up = await client.upload(video);
  const end = await client.follow(up.sessionId).done;
  const sse = new VideoClient({ baseUrl: srv.url, transport: sseTransport(EventSource as unknown as typeof globalThis.EventSource) });
  const err = await sse.follow(up.sessionId, { since: end.seq }).done.then(() => null, (e) => e);
  assert.instance(err, ApiError);
  assert.is(err.code, 'ended');
});

test('the token goes along everywhere when the server has one', async () => {
  const locked = await startTestServer({ API_TOKEN: 'k3y' });
  try {
    const c = new VideoClient({ baseUrl: locked.url, token: 'k3y' });
    const up = await c.upload(video);
    const r = await c.waitForResults(up.sessionId);
    assert.is(r.analysis_type, 'highlights');
    const sse = new VideoClient({ baseUrl: locked.url, token: 'k3y', transport: sseTransport(EventSource as unknown as typeof globalThis.EventSource) });
    assert.is((await sse.follow(up.sessionId).done).type, 'completed');
    const wrong = await new VideoClient({ baseUrl: locked.url, token: 'nope' }).list().then(() => null, (e) => e);
    assert.is(wrong.status, 401);
  } finally {
    await locked.close();
  }
});

test.run();
