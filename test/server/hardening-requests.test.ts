// Requests that used to take the service down or answer wrongly, sent over raw sockets to the
// real server in a child process (a crash is the child exiting). After every case the same
// server must still answer /health and complete a normal upload.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { makeTestVideo } from '../helpers/media.js';
import { closing, delay, filePart, multipartHead, rawRequest, textPart } from '../helpers/raw.js';
import { getJson, incomingFiles, isTerminalStatus, pollStatus, spawnServer, tempDir, upload, type ChildServer } from '../helpers/server.js';

let srv: ChildServer;
let dir: string;
let dataDir: string;
let video: string;
let videoBytes: Buffer;
const TUS = { 'Tus-Resumable': '1.0.0' };
const api = () => `${srv.url}/api/v1/video`;

test.before(async () => {
  dir = tempDir();
  dataDir = tempDir('vas-data-');
  video = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: true });
  videoBytes = fs.readFileSync(video);
  srv = await spawnServer({ DATA_DIR: dataDir, ENGINE_CONCURRENCY: '2', CORS_ORIGINS: 'http://allowed.test' });
});
test.after(async () => {
  srv.proc.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The server is alive, says nothing went wrong, serves /health and completes a real upload. */
async function assertServerWorks() {
  assert.is(srv.proc.exitCode, null, `server exited:\n${srv.output()}`);
  assert.not.match(srv.output(), /Unhandled|uncaught|ERR_STREAM_DESTROYED|MaxListenersExceededWarning/i);
  const h = await getJson(`${srv.url}/health`);
  assert.is(h.status, 200);
  const up = await upload(`${api()}/upload`, video);
  assert.is(up.status, 202, JSON.stringify(up.body));
  const final = await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
  assert.is(final.status, 'completed');
}

/** No half-received upload is left behind (they are removed asynchronously: wait a little). */
async function assertNoPartFiles() {
  for (let i = 0; i < 50; i++) {
    if (incomingFiles(dataDir).length === 0) return;
    await new Promise((r) => setTimeout(r, 40));
  }
  assert.unreachable(`left in incoming/: ${incomingFiles(dataDir).join(', ')}`);
}

const ROUTES: Array<[string, 'v1' | 'legacy']> = [
  ['/api/v1/video/upload', 'v1'],
  ['/analyze/highlights', 'legacy'],
  ['/analyze/workout', 'legacy'],
];

const errorCode = (shape: 'v1' | 'legacy', body: string) => {
  const j = JSON.parse(body);
  return shape === 'v1' ? j.error.code : j.detail;
};

test('a multipart body without its closing boundary: 400, temp file removed, server up', async () => {
  for (const [route, shape] of ROUTES) {
    for (const field of ['file', 'video']) {
      const body = Buffer.concat([Buffer.from(filePart(field, 'c.mp4')), videoBytes.subarray(0, 100_000)]);
      const res = await rawRequest(srv.port, [multipartHead(route, body.length), body]);
      assert.ok(res, `${route}: an answer`);
      assert.is(res!.status, 400, `${route} ${field}: ${res!.raw.slice(0, 300)}`);
      if (shape === 'v1') assert.is(errorCode(shape, res!.body), 'bad_request');
      else assert.match(errorCode(shape, res!.body), /Malformed multipart body/);
    }
  }
  await assertNoPartFiles();
  await assertServerWorks();
});

test('a Content-Length shorter than the body sent: 400 for the body it declared, server up', async () => {
  const body = Buffer.concat([Buffer.from(textPart('analysis_type', 'highlights') + filePart('file', 'c.mp4')), videoBytes.subarray(0, 50_000), Buffer.from(closing)]);
  for (const [route] of ROUTES) {
    // The declared body arrives first: it is answered (a malformed form) before the excess is read.
    const res = await rawRequest(srv.port, [multipartHead(route, 20_000), body.subarray(0, 20_000), delay(100), body.subarray(20_000)]);
    assert.ok(res, `${route}: an answer`);
    assert.is(res!.status, 400, res!.raw.slice(0, 300));
    // In one write, the excess is parsed as the next request straight away, and uWS closes the
    // connection over it; whether the 400 makes it out first is a race. The server must stay up.
    await rawRequest(srv.port, [multipartHead(route, 20_000), body]);
  }
  await assertNoPartFiles();
  await assertServerWorks();
});

test('clients that send part of an upload and hang up at once: nothing kept, server up', async () => {
  const part = Buffer.concat([Buffer.from(filePart('file', 'c.mp4')), videoBytes.subarray(0, 200_000)]);
  for (let i = 0; i < 20; i++) {
    const [route] = ROUTES[i % ROUTES.length];
    await rawRequest(srv.port, [multipartHead(route, 10_000_000), part], { closeAfterSend: i % 2 ? 'destroy' : 'end' });
  }
  await assertNoPartFiles();
  await assertServerWorks();
});

test('form mistakes get clear 400s: filename="", a second file, a wrong field; UTF-8 names kept', async () => {
  const send = async (route: string, parts: Array<string | Buffer>) => {
    const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    return (await rawRequest(srv.port, [multipartHead(route, body.length), body]))!;
  };
  const empty = await send('/api/v1/video/upload', [filePart('file', ''), videoBytes.subarray(0, 70_000), closing]);
  assert.is(empty.status, 400);
  assert.match(JSON.parse(empty.body).error.message, /must be a file: give it a filename/);

  const two = await send('/api/v1/video/upload', [filePart('file', 'a.mp4'), videoBytes, '\r\n', filePart('file', 'b.mp4'), videoBytes, closing]);
  assert.is(two.status, 400);
  assert.match(JSON.parse(two.body).error.message, /one video per upload/);
  const twoLegacy = await send('/analyze/highlights', [filePart('video', 'a.mp4'), videoBytes, '\r\n', filePart('file', 'b.mp4'), videoBytes, closing]);
  assert.is(twoLegacy.status, 400);
  assert.match(JSON.parse(twoLegacy.body).detail, /one video per upload/);

  const name = 'vidéo 東京.mp4';
  const ok = await send('/api/v1/video/upload', [Buffer.from(filePart('file', name)), videoBytes, closing]);
  assert.is(ok.status, 202, ok.body);
  const { sessionId } = JSON.parse(ok.body);
  const status = await getJson(`${api()}/status/${sessionId}`);
  assert.is(status.body.filename, name);
  await assertNoPartFiles();
  await assertServerWorks();
});

test('Retry-After comes from the measured run time, not a fixed guess', async () => {
  const other = await spawnServer({ DATA_DIR: tempDir('vas-data-'), ENGINE_CONCURRENCY: '1', QUEUE_LIMIT: '1' });
  try {
    const quick = await upload(`${other.url}/api/v1/video/upload`, video);
    const t0 = Date.now();
    await pollStatus(other.url, quick.body.sessionId, isTerminalStatus);
    const ranSeconds = (Date.now() - t0) / 1000;
    const long = await makeTestVideo(dir, { seconds: 60, width: 640, height: 360, audio: false, name: 'long.mp4' });
    assert.is((await upload(`${other.url}/api/v1/video/upload`, long)).status, 202);
    assert.is((await upload(`${other.url}/api/v1/video/upload`, video)).status, 202);
    const busy = await upload(`${other.url}/api/v1/video/upload`, video);
    assert.is(busy.status, 503);
    const retry = Number(busy.headers.get('retry-after'));
    // One session queued ahead, one running: two runs of about the measured length.
    assert.ok(retry >= 1 && retry <= Math.max(3, Math.ceil(4 * ranSeconds)), `Retry-After ${retry} after runs of ${ranSeconds.toFixed(2)} s`);
  } finally {
    other.proc.kill('SIGKILL');
  }
});

test('tus: open uploads are limited, hold no file handle, and a full queue refuses the last bytes', async () => {
  const d = tempDir('vas-data-');
  const other = await spawnServer({ DATA_DIR: d, ENGINE_CONCURRENCY: '1', QUEUE_LIMIT: '1', MAX_OPEN_UPLOADS: '60' });
  const endpoint = `${other.url}/api/v1/video/uploads`;
  const fdCount = () => fs.readdirSync(`/proc/${other.proc.pid}/fd`).length;
  try {
    const create = (length: number) => fetch(endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(length) } });
    const patch = (url: string, offset: number, body: Buffer) =>
      fetch(url, { method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) }, body: new Uint8Array(body) });

    // 58 uploads left half-done (with the two below: 60, the limit): file handles do not grow with them.
    const before = fdCount();
    for (let i = 0; i < 58; i++) {
      const res = await create(videoBytes.length);
      assert.is(res.status, 201);
      assert.is((await patch(new URL(res.headers.get('location')!, other.url).href, 0, videoBytes.subarray(0, 1000))).status, 204);
    }
    const grown = fdCount() - before;
    assert.ok(grown <= 40, `58 open uploads hold ${grown} more file handles`);

    const a = new URL((await create(videoBytes.length)).headers.get('location')!, other.url).href;
    const b = new URL((await create(videoBytes.length)).headers.get('location')!, other.url).href;
    const over = await create(videoBytes.length);
    assert.is(over.status, 503, 'MAX_OPEN_UPLOADS');
    assert.is((await over.json()).error.code, 'busy');
    assert.ok(Number(over.headers.get('retry-after')) >= 1);

    // A long analysis takes the one slot; upload a fills the one queue place.
    const long = await makeTestVideo(dir, { seconds: 60, width: 640, height: 360, audio: false, name: 'long.mp4' });
    const running = await upload(`${other.url}/api/v1/video/upload`, long);
    await pollStatus(other.url, running.body.sessionId, (s) => s.status === 'processing');
    assert.is((await patch(a, 0, videoBytes)).status, 204);
    assert.is((await getJson(`${other.url}/api/v1/video/status/${a.split('/').pop()}`)).body.status, 'pending');

    // Upload b completes while the queue is full: its last request is refused, its bytes dropped.
    const half = Math.floor(videoBytes.length / 2);
    assert.is((await patch(b, 0, videoBytes.subarray(0, half))).status, 204);
    const refused = await patch(b, half, videoBytes.subarray(half));
    assert.is(refused.status, 503);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const head = await fetch(b, { method: 'HEAD', headers: TUS });
    assert.is(head.headers.get('upload-offset'), String(half), 'the refused bytes are not counted');
    assert.is((await getJson(`${other.url}/api/v1/video/status/${b.split('/').pop()}`)).body.status, 'uploading');

    // Room again: the client sends the same bytes and the upload goes on.
    await fetch(`${other.url}/api/v1/video/cancel/${running.body.sessionId}`, { method: 'POST' });
    await pollStatus(other.url, a.split('/').pop()!, (s) => s.status !== 'pending');
    assert.is((await patch(b, half, videoBytes.subarray(half))).status, 204);
    const done = await pollStatus(other.url, b.split('/').pop()!, isTerminalStatus);
    assert.is(done.status, 'completed');
    // Finished uploads no longer count: there is room for a new one.
    assert.is((await create(100)).status, 201);
  } finally {
    other.proc.kill('SIGKILL');
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('tus: a PATCH whose upload is terminated meanwhile is answered 410, not cut off', async () => {
  const res = await fetch(`${api()}/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5000000' } });
  const url = new URL(res.headers.get('location')!, srv.url);
  const head =
    `PATCH ${url.pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n` +
    'Upload-Offset: 0\r\nContent-Length: 5000000\r\n\r\n';
  const patch = rawRequest(srv.port, [head, videoBytes.subarray(0, 50_000), delay(300), videoBytes.subarray(0, 50_000)]);
  await new Promise((r) => setTimeout(r, 150));
  assert.is((await fetch(url, { method: 'DELETE', headers: TUS })).status, 204);
  const answer = await patch;
  assert.ok(answer, 'an answer, not a closed connection');
  assert.is(answer!.status, 410);
  assert.is(JSON.parse(answer!.body).error.code, 'gone');
});

test('tus: cancel or cleanup during a PATCH answers it 410 at once; creation-with-upload cut off keeps nothing', async () => {
  for (const how of ['cancel', 'cleanup'] as const) {
    const res = await fetch(`${api()}/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5000000' } });
    const url = new URL(res.headers.get('location')!, srv.url);
    const id = url.pathname.split('/').pop()!;
    const head =
      `PATCH ${url.pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n` +
      'Upload-Offset: 0\r\nContent-Length: 5000000\r\n\r\n';
    const started = Date.now();
    const patch = rawRequest(srv.port, [head, videoBytes.subarray(0, 50_000), delay(5000)], { timeoutMs: 8000 });
    await new Promise((r) => setTimeout(r, 150));
    const stop = how === 'cancel' ? await fetch(`${api()}/cancel/${id}`, { method: 'POST' }) : await fetch(`${api()}/cleanup/${id}`, { method: 'DELETE' });
    assert.is(stop.status, 200);
    const answer = await patch;
    assert.is(answer?.status, 410, how);
    assert.ok(Date.now() - started < 4000, `${how}: answered without waiting for the rest of the body`);
  }
  const openBefore = (await getJson(`${srv.url}/health`)).body.uploads.open;
  const createHead =
    'POST /api/v1/video/uploads HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 5000000\r\n' +
    'Content-Type: application/offset+octet-stream\r\nContent-Length: 5000000\r\n\r\n';
  await rawRequest(srv.port, [createHead, videoBytes.subarray(0, 50_000), delay(100)], { closeAfterSend: 'destroy' });
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await getJson(`${srv.url}/health`)).body.uploads.open, openBefore, 'no upload left that nobody knows the address of');
});

test('conflicting Content-Length headers are refused with 400 before any body is read', async () => {
  const body = Buffer.concat([Buffer.from(filePart('file', 'c.mp4')), videoBytes, Buffer.from(closing)]);
  const head = multipartHead('/api/v1/video/upload', body.length, `Content-Length: ${body.length + 5}\r\n`);
  const res = await rawRequest(srv.port, [head, body]);
  assert.is(res?.status, 400);
  assert.match(JSON.parse(res!.body).error.message, /conflicting Content-Length/);
});

test('tus: Upload-Metadata keys are plain keys ("__proto__", "constructor")', async () => {
  const meta = ['__proto__', 'constructor', 'filename'].map((k) => `${k} ${Buffer.from('x.mp4').toString('base64')}`).join(',');
  const res = await fetch(`${api()}/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '100', 'Upload-Metadata': meta } });
  assert.is(res.status, 201, await res.clone().text());
  await fetch(new URL(res.headers.get('location')!, srv.url), { method: 'DELETE', headers: TUS });
});

test('a file name is cut at 200 characters, never inside one', async () => {
  const name = 'a'.repeat(199) + '\u{1F600}b.mp4';
  const body = Buffer.concat([Buffer.from(filePart('file', name)), videoBytes, Buffer.from(closing)]);
  const res = await rawRequest(srv.port, [multipartHead('/api/v1/video/upload', body.length), body]);
  assert.is(res?.status, 202);
  const st = await getJson(`${api()}/status/${JSON.parse(res!.body).sessionId}`);
  assert.is(st.body.filename, 'a'.repeat(199) + '\u{1F600}');
});

test('tus DELETE of a session made by a multipart upload is 404 and deletes nothing', async () => {
  const up = await upload(`${api()}/upload`, video);
  const id = up.body.sessionId;
  const del = await fetch(`${api()}/uploads/${id}`, { method: 'DELETE', headers: TUS });
  assert.is(del.status, 404);
  assert.is((await getJson(`${api()}/status/${id}`)).status, 200);
});

test('WebSocket: since null is accepted; other sites\u2019 pages are refused, own page and non-browsers not', async () => {
  const up = await upload(`${api()}/upload`, video);
  const id = up.body.sessionId;
  await pollStatus(srv.url, id, isTerminalStatus);
  const wsUrl = `ws://127.0.0.1:${srv.port}/api/v1/video/ws`;
  const open = (origin?: string) =>
    new Promise<{ ws: WebSocket | null; status: number }>((resolve) => {
      const ws = new WebSocket(wsUrl, origin ? { origin } : {});
      ws.on('open', () => resolve({ ws, status: 101 }));
      ws.on('unexpected-response', (_req, res) => resolve({ ws: null, status: res.statusCode ?? 0 }));
      ws.on('error', () => resolve({ ws: null, status: 0 }));
    });
  assert.is((await open('http://evil.test')).status, 403);
  for (const origin of [undefined, srv.url, 'http://allowed.test']) {
    const { ws, status } = await open(origin);
    assert.is(status, 101, String(origin));
    ws!.close();
  }
  const { ws } = await open();
  const frames: any[] = [];
  await new Promise<void>((resolve) => {
    ws!.on('message', (m) => {
      const f = JSON.parse(m.toString());
      frames.push(f);
      if (f.type === 'completed' || f.type === 'error') resolve();
    });
    ws!.send(JSON.stringify({ op: 'subscribe', sessionId: id, since: null }));
  });
  ws!.close();
  assert.ok(frames.every((f) => f.type !== 'error'), JSON.stringify(frames[0]));
  assert.equal(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'the whole log from the start');
});

test('HEAD answers have no body: /health 200, errors too', async () => {
  const res = await rawRequest(srv.port, ['HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 1000 });
  assert.is(res!.status, 200);
  assert.ok(Number(res!.headers['content-length']) > 0, 'the GET answer\'s length');
  assert.is(res!.raw.slice(res!.raw.indexOf('\r\n\r\n') + 4), '', 'no body bytes');
  const missing = await rawRequest(srv.port, ['HEAD /api/v1/video/uploads/AAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n'], { timeoutMs: 1000 });
  assert.is(missing!.status, 404);
  assert.is(missing!.raw.slice(missing!.raw.indexOf('\r\n\r\n') + 4), '');
  // Pipelined behind a HEAD, the next request's answer follows at once.
  const both = await rawRequest(srv.port, ['HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 1000 });
  assert.match(both!.raw, /^HTTP\/1\.1 404 [^]*\r\n\r\nHTTP\/1\.1 200 /);
});

test('an upload over the size limit: 413 with the body read, server up', async () => {
  const other = await spawnServer({ DATA_DIR: tempDir('vas-data-'), MAX_UPLOAD_BYTES: '1MiB' });
  try {
    const big = path.join(dir, 'big.mp4');
    fs.writeFileSync(big, Buffer.concat([videoBytes, Buffer.alloc(1024 * 1024 + 1024 - videoBytes.length)]));
    for (let i = 0; i < 5; i++) {
      const res = await upload(`${other.url}/api/v1/video/upload`, big);
      assert.is(res.status, 413);
      assert.is(res.body.error.code, 'too_large');
    }
    assert.is(other.proc.exitCode, null, other.output());
    assert.not.match(other.output(), /Unhandled|ERR_STREAM_DESTROYED/);
    assert.is((await upload(`${other.url}/api/v1/video/upload`, video)).status, 202);
  } finally {
    other.proc.kill('SIGKILL');
  }
});

test.run();
