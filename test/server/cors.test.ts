// CORS over real sockets: preflights answered on every route, and REST, SSE, tus and the
// WebSocket upgrade agreeing on which origins may use the service (CORS_ORIGINS, the service's
// own origin, '*').
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { makeTestVideo } from '../helpers/media.js';
import { isTerminalStatus, pollStatus, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

const ALLOWED = 'http://allowed.test';
const OTHER = 'http://evil.test';
let srv: TestServer;
let dir: string;
let video: string;
let sessionId: string;
const api = () => `${srv.url}/api/v1/video`;

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 2, width: 160, height: 120, audio: false });
  srv = await startTestServer({ CORS_ORIGINS: `${ALLOWED}, http://second.test` });
  const up = await upload(`${api()}/upload`, video);
  sessionId = up.body.sessionId;
  await pollStatus(srv.url, sessionId, isTerminalStatus);
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const routes = () => [
  ['POST', `${api()}/upload`],
  ['GET', `${api()}/status/${sessionId}`],
  ['GET', `${api()}/results/${sessionId}`],
  ['GET', `${api()}/events/${sessionId}`],
  ['POST', `${api()}/cancel/${sessionId}`],
  ['DELETE', `${api()}/cleanup/${sessionId}`],
  ['GET', `${api()}/sessions`],
  ['GET', `${srv.url}/health`],
  ['POST', `${api()}/uploads`],
  ['PATCH', `${api()}/uploads/${sessionId}`],
  ['POST', `${srv.url}/analyze/highlights`],
];

test('a preflight is answered on every route, with the methods and the headers browsers need', async () => {
  for (const [method, url] of routes()) {
    const res = await fetch(url, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization, last-event-id' },
    });
    assert.is(res.status, 204, `${method} ${url}`);
    assert.is(res.headers.get('access-control-allow-origin'), ALLOWED, url);
    assert.ok(res.headers.get('access-control-allow-methods')!.split(', ').includes(method), url);
    for (const h of ['Authorization', 'Last-Event-ID', 'Content-Type', 'Upload-Offset']) {
      assert.ok(res.headers.get('access-control-allow-headers')!.split(', ').includes(h), `${url}: ${h}`);
    }
    assert.ok(res.headers.get('allow')!.split(', ').includes(method), `${url}: Allow`);
    assert.match(res.headers.get('vary') ?? '', /Origin/);
  }
});

test('REST, SSE and tus answer an allowed origin with its CORS headers (tus\'s exposed too)', async () => {
  const st = await fetch(`${api()}/status/${sessionId}`, { headers: { Origin: ALLOWED } });
  assert.is(st.status, 200);
  assert.is(st.headers.get('access-control-allow-origin'), ALLOWED);
  const missing = await fetch(`${api()}/status/V1StGXR8_Z5jdHi6B-myT`, { headers: { Origin: ALLOWED } });
  assert.is(missing.status, 404);
  assert.is(missing.headers.get('access-control-allow-origin'), ALLOWED, 'errors are readable too');

  const up = await upload(`${api()}/upload`, video, {}, { headers: { Origin: 'http://second.test' } });
  assert.is(up.status, 202);
  assert.is(up.headers.get('access-control-allow-origin'), 'http://second.test');
  assert.match(up.headers.get('access-control-expose-headers')!, /\bLocation\b/);

  const sse = await fetch(`${api()}/events/${up.body.sessionId}`, { headers: { Origin: ALLOWED } });
  assert.is(sse.status, 200);
  assert.is(sse.headers.get('access-control-allow-origin'), ALLOWED);
  await sse.body?.cancel();

  const tus = await fetch(`${api()}/uploads`, {
    method: 'POST',
    headers: { Origin: ALLOWED, 'Tus-Resumable': '1.0.0', 'Upload-Length': '1000' },
  });
  assert.is(tus.status, 201);
  assert.is(tus.headers.get('access-control-allow-origin'), ALLOWED);
  for (const h of ['Location', 'Upload-Offset', 'Upload-Expires', 'Tus-Resumable']) {
    assert.ok(tus.headers.get('access-control-expose-headers')!.split(', ').includes(h), h);
  }
});

function wsStatus(origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/v1/video/ws`, origin ? { origin } : {});
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

test('an origin that is not allowed is refused alike by REST, SSE, tus, preflights and the WebSocket', async () => {
  for (const [method, url] of routes()) {
    const res = await fetch(url, { method, headers: { Origin: OTHER, 'Tus-Resumable': '1.0.0', 'Upload-Length': '10' } });
    assert.is(res.status, 403, `${method} ${url}`);
    assert.is(res.headers.get('access-control-allow-origin'), null);
    const body = await res.json();
    assert.ok(body.error?.code === 'forbidden' || /origin/i.test(body.detail), JSON.stringify(body));
    const pre = await fetch(url, { method: 'OPTIONS', headers: { Origin: OTHER, 'Access-Control-Request-Method': method } });
    assert.is(pre.status, 403, `preflight ${url}`);
    assert.is(pre.headers.get('access-control-allow-origin'), null);
  }
  assert.is(await wsStatus(OTHER), 403);
  assert.is(await wsStatus(ALLOWED), 101);
  assert.is(await wsStatus(srv.url), 101, 'the service\'s own origin');
  assert.is(await wsStatus(), 101, 'non-browser clients send no Origin');
  // The service's own page needs no listing, on REST too.
  const own = await fetch(`${api()}/status/${sessionId}`, { headers: { Origin: srv.url } });
  assert.is(own.status, 200);
  assert.is(own.headers.get('access-control-allow-origin'), srv.url);
});

test('CORS_ORIGINS=* lets any origin in, everywhere', async () => {
  const any = await startTestServer({ CORS_ORIGINS: '*' });
  try {
    const pre = await fetch(`${any.url}/api/v1/video/upload`, { method: 'OPTIONS', headers: { Origin: OTHER, 'Access-Control-Request-Method': 'POST' } });
    assert.is(pre.status, 204);
    assert.is(pre.headers.get('access-control-allow-origin'), OTHER);
    const h = await fetch(`${any.url}/health`, { headers: { Origin: OTHER } });
    assert.is(h.headers.get('access-control-allow-origin'), OTHER);
    const ws = await new Promise<number>((resolve) => {
      const s = new WebSocket(`ws://127.0.0.1:${any.port}/api/v1/video/ws`, { origin: OTHER });
      s.on('open', () => (s.close(), resolve(101)));
      s.on('unexpected-response', (_r, res) => resolve(res.statusCode ?? 0));
    });
    assert.is(ws, 101);
  } finally {
    await any.close();
  }
});

test.run();
