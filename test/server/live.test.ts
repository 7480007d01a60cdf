// SSE and WebSocket with the stock clients (eventsource, ws) and raw HTTP.
import fs from 'node:fs';
import net from 'node:net';
import { EventSource } from 'eventsource';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, pollStatus, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let dir: string;
let video: string;
const api = () => `${srv.url}/api/v1/video`;

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 20, width: 480, height: 270, audio: true });
  srv = await startTestServer({ ENGINE_CONCURRENCY: '2' });
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Ev {
  seq: number;
  type: string;
  data: any;
}

function followSse(url: string): Promise<Ev[]> {
  return new Promise((resolve, reject) => {
    const es = new EventSource(url);
    const got: Ev[] = [];
    const on = (type: string) =>
      es.addEventListener(type, (e: MessageEvent) => {
        got.push({ seq: Number(e.lastEventId), type, data: JSON.parse(e.data) });
        if (['completed', 'failed', 'cancelled'].includes(type)) {
          es.close();
          resolve(got);
        }
      });
    for (const t of ['status', 'progress', 'segment', 'completed', 'failed', 'cancelled']) on(t);
    es.onerror = (e) => {
      if (es.readyState === EventSource.CLOSED) reject(new Error(`SSE closed: ${JSON.stringify(e)}`));
    };
  });
}

function assertGapless(evs: Ev[], from = 1) {
  evs.forEach((e, i) => assert.is(e.seq, from + i, `seq ${e.seq} at ${i}`));
}

test('SSE with eventsource: the whole ordered log, segments match the results', async () => {
  const up = await upload(`${api()}/upload`, video);
  const evs = await followSse(`${api()}/events/${up.body.sessionId}`);
  assertGapless(evs);
  assert.is(evs[0].type, 'status');
  assert.is(evs.at(-1)!.type, 'completed');
  const progress = evs.filter((e) => e.type === 'progress').map((e) => e.data.progress);
  assert.ok(progress.length > 0);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1]);
  const segs = evs.filter((e) => e.type === 'segment').map((e) => e.data);
  const res = (await getJson(`${api()}/results/${up.body.sessionId}`)).body.results;
  assert.equal(
    segs.sort((a, b) => a.index - b.index),
    res.all_analyses,
    'live segment events are the results',
  );
  assert.is(evs.at(-1)!.data.highlights_found, res.highlights_found);
});

function rawSse(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d));
    sock.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1]);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    sock.on('error', reject);
    const h = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n${h}Connection: close\r\n\r\n`);
  });
}

const seqs = (body: string) => [...body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

test('SSE replay: Last-Event-ID and ?lastEventId= resume after N; 204 once everything was seen', async () => {
  const up = await upload(`${api()}/upload`, video);
  const id = up.body.sessionId;
  await pollStatus(srv.url, id, isTerminalStatus);
  const full = await rawSse(`/api/v1/video/events/${id}`);
  assert.is(full.status, 200);
  const all = seqs(full.body);
  assert.ok(all.length > 5);
  const n = 3;
  const after = await rawSse(`/api/v1/video/events/${id}`, { 'Last-Event-ID': String(n) });
  assert.equal(seqs(after.body), all.filter((s) => s > n));
  const q = await rawSse(`/api/v1/video/events/${id}?lastEventId=${n + 1}`);
  assert.equal(seqs(q.body), all.filter((s) => s > n + 1));
  assert.match(full.body, /^event: completed$/m);
  const end = await rawSse(`/api/v1/video/events/${id}`, { 'Last-Event-ID': String(all.at(-1)) });
  assert.is(end.status, 204);
});

test('SSE heartbeats arrive on an idle stream', async () => {
  // A resumable upload that never receives a byte keeps its session idle in `uploading`.
  const created = await fetch(`${api()}/uploads`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1000' },
  });
  assert.is(created.status, 201);
  const id = created.headers.get('location')!.split('/').pop()!;
  const res = await fetch(`${api()}/events/${id}`);
  const reader = res.body!.getReader();
  let text = '';
  const t0 = Date.now();
  const until = t0 + 5500;
  while (Date.now() < until && !text.includes(': keep-alive')) {
    const r = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), until - Date.now()))]);
    if (!r || r.done) break;
    text += Buffer.from(r.value).toString();
  }
  const waited = Date.now() - t0;
  await reader.cancel();
  assert.match(text, /: keep-alive/);
  assert.ok(waited <= 5200, `first heartbeat after ${waited} ms`);
  await fetch(`${api()}/uploads/${id}`, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } });
});

function wsClient(): Promise<{ ws: WebSocket; msgs: any[]; next: (pred: (m: any) => boolean, ms?: number) => Promise<any> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/v1/video/ws`);
    const msgs: any[] = [];
    const waiters: Array<[(m: any) => boolean, (m: any) => void]> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      msgs.push(m);
      for (const w of [...waiters]) if (w[0](m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w[1](m);
      }
    });
    ws.on('open', () =>
      resolve({
        ws,
        msgs,
        next: (pred, ms = 60_000) =>
          new Promise((res, rej) => {
            const found = msgs.find(pred);
            if (found) return res(found);
            const t = setTimeout(() => rej(new Error('timeout waiting for message')), ms);
            waiters.push([pred, (m) => (clearTimeout(t), res(m))]);
          }),
      }),
    );
    ws.on('error', reject);
  });
}

test('WebSocket: many sessions on one socket, same events and seqs as SSE, since-replay', async () => {
  const a = await upload(`${api()}/upload`, video);
  const b = await upload(`${api()}/upload`, video);
  const c = await wsClient();
  c.ws.send(JSON.stringify({ op: 'subscribe', sessionId: a.body.sessionId }));
  c.ws.send(JSON.stringify({ op: 'subscribe', sessionId: b.body.sessionId }));
  await c.next((m) => m.sessionId === a.body.sessionId && m.type === 'completed');
  await c.next((m) => m.sessionId === b.body.sessionId && m.type === 'completed');
  for (const s of [a, b]) {
    const mine = c.msgs.filter((m) => m.sessionId === s.body.sessionId);
    assertGapless(mine);
    const sse = await rawSse(`/api/v1/video/events/${s.body.sessionId}`);
    const sseEvents = [...sse.body.matchAll(/^id: (\d+)\nevent: (\w+)\ndata: (.*)$/gm)].map((m) => ({ seq: +m[1], type: m[2], data: JSON.parse(m[3]) }));
    assert.equal(mine.map(({ seq, type, data }) => ({ seq, type, data })), sseEvents, 'WS and SSE carry the same events');
  }
  // Replay with since on a finished session.
  const d = await wsClient();
  d.ws.send(JSON.stringify({ op: 'subscribe', sessionId: a.body.sessionId, since: 4 }));
  await d.next((m) => m.type === 'completed');
  assert.is(d.msgs[0].seq, 5);
  assertGapless(d.msgs, 5);
  c.ws.close();
  d.ws.close();
});

test('WebSocket: garbage gets an error message and the connection stays open', async () => {
  const c = await wsClient();
  c.ws.send('not json at all');
  c.ws.send(Buffer.from([1, 2, 3]));
  c.ws.send(JSON.stringify({ op: 'dance' }));
  c.ws.send(JSON.stringify({ op: 'subscribe', sessionId: 'V1StGXR8_Z5jdHi6B-myT' }));
  c.ws.send(JSON.stringify({ op: 'subscribe', sessionId: 42 }));
  c.ws.send(JSON.stringify([1]));
  await c.next(() => c.msgs.length >= 6, 5000).catch(() => {});
  assert.is(c.msgs.length, 6, JSON.stringify(c.msgs));
  assert.ok(c.msgs.every((m) => m.type === 'error' && m.error.code && m.error.message));
  assert.is(c.msgs[3].error.code, 'not_found');
  assert.is(c.ws.readyState, WebSocket.OPEN);
  c.ws.close();
});

test('WebSocket: unsubscribe stops delivery', async () => {
  const up = await upload(`${api()}/upload`, video);
  const c = await wsClient();
  c.ws.send(JSON.stringify({ op: 'subscribe', sessionId: up.body.sessionId }));
  await c.next((m) => m.type === 'status');
  c.ws.send(JSON.stringify({ op: 'unsubscribe', sessionId: up.body.sessionId }));
  await new Promise((r) => setTimeout(r, 100));
  const n = c.msgs.length;
  await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(c.msgs.length, n);
  c.ws.close();
});

test('hundreds of subscribers at once, and a reader that stops reading does not hold anyone up', async () => {
  const up = await upload(`${api()}/upload`, video);
  const id = up.body.sessionId;
  // A raw socket that subscribes over SSE and never reads.
  const stalled = net.connect(srv.port, '127.0.0.1');
  stalled.pause();
  stalled.write(`GET /api/v1/video/events/${id} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const clients = await Promise.all(Array.from({ length: 200 }, () => wsClient()));
  for (const c of clients) c.ws.send(JSON.stringify({ op: 'subscribe', sessionId: id }));
  const sses = Array.from({ length: 100 }, () => followSse(`${api()}/events/${id}`));
  await Promise.all(clients.map((c) => c.next((m) => m.type === 'completed', 90_000)));
  const sseResults = await Promise.all(sses);
  const expected = clients[0].msgs.length;
  for (const c of clients) {
    assert.is(c.msgs.length, expected);
    assertGapless(c.msgs);
  }
  for (const evs of sseResults) {
    assert.is(evs.length, expected);
    assertGapless(evs);
  }
  for (const c of clients) c.ws.close();
  stalled.destroy();
});

test.run();
