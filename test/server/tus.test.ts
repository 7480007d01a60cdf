// tus 1.0.0 resumable uploads: the stock client (tus-js-client in Node) against the real server,
// interrupted uploads resumed at the server's offset, every protocol error with raw requests,
// and the `upload` events as seen over SSE.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { EventSource } from 'eventsource';
import * as tus from 'tus-js-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, pollStatus, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let dir: string;
let video: string;
let bytes: Buffer;
const endpoint = () => `${srv.url}/api/v1/video/uploads`;
const TUS = { 'Tus-Resumable': '1.0.0' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const idOf = (url: string) => url.split('/').pop()!;

test.before(async () => {
  dir = tempDir();
  // Big enough that 40 % is a real split (a few MB); quick for the signal engine.
  video = await makeTestVideo(dir, { seconds: 12, width: 640, height: 360, audio: true, preset: 'ultrafast', name: 'clip.mp4' });
  bytes = fs.readFileSync(video);
  srv = await startTestServer({ MAX_UPLOAD_BYTES: '64MiB', CORS_ORIGINS: 'http://example.test' });
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Recorded {
  method: string;
  offset: string | undefined;
}

/** Runs a tus-js-client upload to its end; resolves with the upload URL, rejects with its error. */
function tusUpload(
  file: Buffer,
  opts: tus.UploadOptions & { onStart?: (u: tus.Upload) => void } = {},
): { done: Promise<string>; upload: tus.Upload; requests: Recorded[] } {
  const requests: Recorded[] = [];
  let upload!: tus.Upload;
  const done = new Promise<string>((resolve, reject) => {
    upload = new tus.Upload(file, {
      endpoint: endpoint(),
      metadata: { filename: 'clip.mp4', analysis_type: 'highlights', params: JSON.stringify({ min_significance: 3 }) },
      retryDelays: null,
      storeFingerprintForResuming: false,
      ...opts,
      onBeforeRequest: (req) => {
        requests.push({ method: req.getMethod(), offset: req.getHeader('Upload-Offset') });
      },
      onSuccess: () => resolve(upload.url!),
      onError: reject,
    });
    upload.start();
  });
  return { done, upload, requests };
}

/** The bytes the server stored for a session. */
const stored = (id: string) => fs.readFileSync(path.join(srv.dataDir, 'sessions', id, 'video'));

async function head(url: string, headers: Record<string, string> = TUS) {
  const res = await fetch(url, { method: 'HEAD', headers });
  return { status: res.status, offset: Number(res.headers.get('upload-offset')), headers: res.headers };
}

async function create(length: number, meta: Record<string, string> = {}, extra: Record<string, string> = {}) {
  const metadata = Object.entries(meta).map(([k, v]) => `${k} ${b64(v)}`).join(',');
  const res = await fetch(endpoint(), {
    method: 'POST',
    headers: { ...TUS, 'Upload-Length': String(length), ...(metadata ? { 'Upload-Metadata': metadata } : {}), ...extra },
  });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body: body ? JSON.parse(body) : null, url: new URL(res.headers.get('location') ?? '/', srv.url).href };
}

async function patch(url: string, body: Buffer, offset: number, extra: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), ...extra },
    body: new Uint8Array(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/**
 * A TCP proxy in front of the server that cuts the first connection after `cutAfter` bytes from
 * the client (what was forwarded reaches the server, then both sides are closed): a network drop
 * in the middle of a PATCH. Later connections pass through.
 */
async function flakyProxy(cutAfter: number): Promise<{ url: string; cuts: () => number; close(): void }> {
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(srv.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let seen = 0;
    const cutThis = cuts === 0;
    client.on('data', (d: Buffer) => {
      if (cutThis && cuts === 0 && seen + d.length >= cutAfter) {
        upstream.end(d.subarray(0, cutAfter - seen));
        cuts++;
        client.destroy();
        return;
      }
      seen += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cuts: () => cuts,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** Waits until HEAD reports a non-zero offset that stays put (the server has handled the drop). */
async function settledOffset(url: string): Promise<number> {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    const h = await head(url);
    assert.is(h.status, 200);
    if (h.offset > 0 && h.offset === last) return h.offset;
    last = h.offset;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`offset never settled (last ${last})`);
}

test('OPTIONS advertises the protocol, extensions, limits and CORS', async () => {
  const res = await fetch(endpoint(), { method: 'OPTIONS', headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'PATCH' } });
  assert.is(res.status, 204);
  assert.is(res.headers.get('tus-version'), '1.0.0');
  assert.is(res.headers.get('tus-resumable'), '1.0.0');
  const ext = res.headers.get('tus-extension')!.split(',');
  for (const e of ['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum']) assert.ok(ext.includes(e), e);
  assert.is(res.headers.get('tus-max-size'), String(64 * 1024 * 1024));
  assert.ok(res.headers.get('tus-checksum-algorithm')!.split(',').includes('sha1'));
  assert.is(res.headers.get('access-control-allow-origin'), 'http://example.test');
  assert.match(res.headers.get('access-control-allow-methods')!, /PATCH/);
  assert.match(res.headers.get('access-control-allow-headers')!, /Upload-Offset/);
  for (const h of ['Location', 'Upload-Offset', 'Upload-Length', 'Tus-Resumable']) {
    assert.match(res.headers.get('access-control-expose-headers')!, h);
  }
  // An origin that CORS_ORIGINS does not list gets no CORS headers: its browser cannot read the answer.
  const other = await fetch(endpoint(), { method: 'OPTIONS', headers: { Origin: 'http://evil.test', 'Access-Control-Request-Method': 'PATCH' } });
  assert.is(other.headers.get('access-control-allow-origin'), null);
  // The service's own origin needs no listing.
  const own = await fetch(endpoint(), { method: 'OPTIONS', headers: { Origin: srv.url, 'Access-Control-Request-Method': 'PATCH' } });
  assert.is(own.headers.get('access-control-allow-origin'), srv.url);
});

test('tus-js-client: a whole upload ends in a completed analysis with identical bytes', async () => {
  const t = tusUpload(bytes);
  const url = await t.done;
  const id = idOf(url);
  assert.match(id, /^[A-Za-z0-9_-]{21}$/);
  assert.equal(t.requests.map((r) => r.method), ['POST', 'PATCH']);
  const fin = await pollStatus(srv.url, id, isTerminalStatus);
  assert.is(fin.status, 'completed', JSON.stringify(fin));
  assert.ok(stored(id).equals(bytes), 'stored bytes');
  const results = await getJson(`${srv.url}/api/v1/video/results/${id}`);
  assert.is(results.body.results.settings.min_significance, 3, 'params from Upload-Metadata');
  // A finished upload still answers HEAD with its full offset (clients that resume a done upload).
  const h = await head(url);
  assert.is(h.status, 200);
  assert.is(h.offset, bytes.length);
});

test('an upload cut at ~40 % resumes from the offset the server reports, identical bytes', async () => {
  const proxy = await flakyProxy(Math.floor(bytes.length * 0.4));
  try {
    // First attempt through the proxy: the connection drops mid-PATCH; no automatic retry.
    const first = tusUpload(bytes, { endpoint: `${proxy.url}/api/v1/video/uploads` });
    const err = await first.done.then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, 'the first attempt fails');
    assert.is(proxy.cuts(), 1);
    const url = new URL(new URL(first.upload.url!).pathname, srv.url).href;
    const offset = await settledOffset(url);
    assert.ok(offset > bytes.length * 0.3 && offset < bytes.length * 0.45, `offset ${offset} of ${bytes.length}`);
    assert.ok(stored(idOf(url)).equals(bytes.subarray(0, offset)), 'the bytes kept are the first ones');
    const mid = await getJson(`${srv.url}/api/v1/video/status/${idOf(url)}`);
    assert.is(mid.body.status, 'uploading');
    assert.is(mid.body.upload.receivedBytes, offset);

    // Resume with a new client object from the upload URL: HEAD, then PATCH from that offset.
    const second = tusUpload(bytes, { uploadUrl: url });
    await second.done;
    assert.equal(second.requests.map((r) => r.method), ['HEAD', 'PATCH']);
    assert.is(second.requests[1].offset, String(offset));
    const fin = await pollStatus(srv.url, idOf(url), isTerminalStatus);
    assert.is(fin.status, 'completed', JSON.stringify(fin));
    assert.ok(stored(idOf(url)).equals(bytes), 'stored bytes are identical');
  } finally {
    proxy.close();
  }
});

test('a network drop is retried by tus-js-client by itself and resumes at the server offset', async () => {
  const proxy = await flakyProxy(Math.floor(bytes.length * 0.4));
  try {
    const t = tusUpload(bytes, { endpoint: `${proxy.url}/api/v1/video/uploads`, retryDelays: [100, 300, 600, 1000, 2000] });
    const url = await t.done;
    assert.is(proxy.cuts(), 1);
    const patches = t.requests.filter((r) => r.method === 'PATCH');
    const resumedAt = Number(patches.at(-1)!.offset);
    assert.ok(resumedAt > 0, `resumed at ${resumedAt}`);
    const id = idOf(url);
    const fin = await pollStatus(srv.url, id, isTerminalStatus);
    assert.is(fin.status, 'completed');
    assert.ok(stored(id).equals(bytes));
  } finally {
    proxy.close();
  }
});

test('creation-with-upload and chunked PATCHes with sha1 checksums', async () => {
  const first = bytes.subarray(0, 100_000);
  const sha1 = (b: Buffer) => `sha1 ${createHash('sha1').update(b).digest('base64')}`;
  const res = await fetch(endpoint(), {
    method: 'POST',
    headers: { ...TUS, 'Upload-Length': String(bytes.length), 'Content-Type': 'application/offset+octet-stream', 'Upload-Checksum': sha1(first) },
    body: new Uint8Array(first),
  });
  assert.is(res.status, 201);
  assert.is(res.headers.get('upload-offset'), '100000');
  assert.ok(Date.parse(res.headers.get('upload-expires')!) > Date.now(), 'Upload-Expires');
  const url = new URL(res.headers.get('location')!, srv.url).href;

  // Wrong checksum: 460 and that PATCH's bytes are discarded.
  const next = bytes.subarray(100_000, 1_000_000);
  const bad = await patch(url, next, 100_000, { 'Upload-Checksum': sha1(Buffer.from('something else')) });
  assert.is(bad.status, 460);
  assert.is(bad.body.error.code, 'checksum_mismatch');
  assert.is((await head(url)).offset, 100_000);
  assert.is(stored(idOf(url)).length, 100_000);
  // Unsupported algorithm: 400.
  assert.is((await patch(url, next, 100_000, { 'Upload-Checksum': 'crc32 AAAAAA==' })).status, 400);

  const ok = await patch(url, next, 100_000, { 'Upload-Checksum': sha1(next) });
  assert.is(ok.status, 204);
  assert.is(ok.headers.get('upload-offset'), '1000000');
  const rest = await patch(url, bytes.subarray(1_000_000), 1_000_000);
  assert.is(rest.status, 204);
  assert.is(rest.headers.get('upload-offset'), String(bytes.length));
  const st = await getJson(`${srv.url}/api/v1/video/status/${idOf(url)}`);
  assert.ok(['pending', 'processing', 'completed'].includes(st.body.status), 'queued once the last byte is in');
  assert.ok(stored(idOf(url)).equals(bytes));
  assert.is((await pollStatus(srv.url, idOf(url), isTerminalStatus)).status, 'completed');
});

test('protocol errors: 412, 400, 413, 404, 415, 409, 423, 410 and DELETE', async () => {
  // 412: missing or unsupported Tus-Resumable, with Tus-Version.
  for (const h of [{}, { 'Tus-Resumable': '0.2.2' }] as Record<string, string>[]) {
    const res = await fetch(endpoint(), { method: 'POST', headers: { ...h, 'Upload-Length': '10' } });
    assert.is(res.status, 412);
    assert.is(res.headers.get('tus-version'), '1.0.0');
  }
  // 400: no Upload-Length, bad metadata, bad analysis_type, bad params naming the key.
  assert.is((await fetch(endpoint(), { method: 'POST', headers: TUS })).status, 400);
  assert.is((await create(10, {}, { 'Upload-Metadata': 'filename not*base64' })).status, 400);
  const badType = await create(10, { analysis_type: 'dance' });
  assert.is(badType.status, 400);
  assert.is(badType.body.error.code, 'bad_request');
  const badParams = await create(10, { params: JSON.stringify({ min_significance: 99 }) });
  assert.is(badParams.status, 400);
  assert.match(badParams.body.error.message, 'min_significance');
  assert.is((await create(10, { params: '{oops' })).status, 400);
  // 413: over the server's limit.
  const big = await create(65 * 1024 * 1024);
  assert.is(big.status, 413);
  assert.is(big.body.error.code, 'too_large');

  const c = await create(1000, { filename: 'x.mp4' });
  assert.is(c.status, 201);
  assert.is(c.body.status, 'uploading');
  assert.match(c.headers.get('location')!, /^\/api\/v1\/video\/uploads\/[A-Za-z0-9_-]{21}$/);
  const url = c.url;
  // Unknown ids, ids of another shape, sessions that were not tus uploads: 404.
  assert.is((await head(`${endpoint()}/V1StGXR8_Z5jdHi6B-myT`)).status, 404);
  assert.is((await head(`${endpoint()}/nope`)).status, 404);
  const multipart = await upload(`${srv.url}/api/v1/video/upload`, video);
  assert.is((await head(`${endpoint()}/${multipart.body.sessionId}`)).status, 404);
  // 412 on HEAD and PATCH too.
  assert.is((await head(url, {})).status, 412);
  // 415: wrong Content-Type.
  const wrongType = await fetch(url, { method: 'PATCH', headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/octet-stream' }, body: 'abc' });
  assert.is(wrongType.status, 415);
  // 400: missing Upload-Offset.
  const noOffset = await fetch(url, { method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream' }, body: 'abc' });
  assert.is(noOffset.status, 400);
  // 409: offset mismatch, with the real offset.
  const mismatch = await patch(url, Buffer.alloc(10), 5);
  assert.is(mismatch.status, 409);
  assert.is(mismatch.headers.get('upload-offset'), '0');
  // 413: past Upload-Length.
  const past = await patch(url, Buffer.alloc(1001), 0);
  assert.is(past.status, 413);
  assert.is((await head(url)).offset, 0);

  // 423: a second PATCH while one is still writing.
  const slow = http.request(url, {
    method: 'PATCH',
    headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Content-Length': '1000' },
  });
  const slowDone = new Promise<number>((resolve, reject) => {
    slow.on('response', (r) => {
      r.resume();
      resolve(r.statusCode!);
    });
    slow.on('error', reject);
  });
  slow.write(Buffer.alloc(400, 1));
  await new Promise((r) => setTimeout(r, 150));
  const locked = await patch(url, Buffer.alloc(10), 0);
  assert.is(locked.status, 423);
  slow.end(Buffer.alloc(600, 2));
  assert.is(await slowDone, 204);
  assert.is((await head(url)).offset, 1000);

  // termination: 204, then gone.
  const del = await fetch(url, { method: 'DELETE', headers: TUS });
  assert.is(del.status, 204);
  assert.is(del.headers.get('tus-resumable'), '1.0.0');
  assert.ok([404, 410].includes((await head(url)).status));
  assert.is((await getJson(`${srv.url}/api/v1/video/status/${idOf(url)}`)).status, 404);
  assert.is((await fetch(`${endpoint()}/V1StGXR8_Z5jdHi6B-myT`, { method: 'DELETE', headers: TUS })).status, 404);
});

test('expiration: Upload-Expires, and 410 once it passed', async () => {
  const other = await startTestServer({ SESSION_TTL: '1s' });
  try {
    const res = await fetch(`${other.url}/api/v1/video/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '100' } });
    assert.is(res.status, 201);
    const expires = Date.parse(res.headers.get('upload-expires')!);
    assert.ok(expires > Date.now() - 1000 && expires < Date.now() + 5000, res.headers.get('upload-expires')!);
    const url = new URL(res.headers.get('location')!, other.url).href;
    await new Promise((r) => setTimeout(r, 2200));
    const h = await fetch(url, { method: 'HEAD', headers: TUS });
    assert.is(h.status, 410);
    const p = await fetch(url, { method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' }, body: 'abc' });
    assert.is(p.status, 410);
  } finally {
    await other.close();
  }
});

test('503 busy on creation when the queue is full; 401 without the token', async () => {
  const other = await startTestServer({ ENGINE_CONCURRENCY: '1', QUEUE_LIMIT: '0', API_TOKEN: 't0ken', CORS_ORIGINS: 'http://x.test' });
  try {
    const auth = { authorization: 'Bearer t0ken' };
    const noAuth = await fetch(`${other.url}/api/v1/video/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '100', Origin: 'http://x.test' } });
    assert.is(noAuth.status, 401);
    assert.is(noAuth.headers.get('access-control-allow-origin'), 'http://x.test', 'browsers can read the 401');
    // Preflight needs no token.
    assert.is((await fetch(`${other.url}/api/v1/video/uploads`, { method: 'OPTIONS' })).status, 204);
    const long = await makeTestVideo(dir, { seconds: 60, width: 640, height: 360, audio: false, name: 'long.mp4' });
    const running = await upload(`${other.url}/api/v1/video/upload`, long, {}, { headers: auth });
    assert.is(running.status, 202);
    const res = await fetch(`${other.url}/api/v1/video/uploads`, { method: 'POST', headers: { ...TUS, ...auth, 'Upload-Length': '100' } });
    assert.is(res.status, 503, await res.clone().text());
    assert.is((await res.json()).error.code, 'busy');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.is(res.headers.get('tus-resumable'), '1.0.0');
  } finally {
    await other.close();
  }
});

test('SSE shows upload events, then the uploading → pending change, then the analysis', async () => {
  const chunk = Math.ceil(bytes.length / 4);
  let sessionUrl = '';
  const t = tusUpload(bytes, { chunkSize: chunk, onUploadUrlAvailable: () => (sessionUrl = t.upload.url!) } as tus.UploadOptions);
  await t.done;
  assert.ok(sessionUrl);
  const id = idOf(sessionUrl);
  // Follow from the start (the log is replayed), until the terminal event.
  const events = await new Promise<Array<{ seq: number; type: string; data: any }>>((resolve, reject) => {
    const es = new EventSource(`${srv.url}/api/v1/video/events/${id}`);
    const got: Array<{ seq: number; type: string; data: any }> = [];
    for (const type of ['status', 'upload', 'progress', 'segment', 'completed', 'failed', 'cancelled']) {
      es.addEventListener(type, (e: MessageEvent) => {
        got.push({ seq: Number(e.lastEventId), type, data: JSON.parse(e.data) });
        if (['completed', 'failed', 'cancelled'].includes(type)) {
          es.close();
          resolve(got);
        }
      });
    }
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) reject(new Error('SSE closed'));
    };
  });
  events.forEach((e, i) => assert.is(e.seq, i + 1, 'gapless'));
  assert.equal(events[0], { seq: 1, type: 'status', data: { status: 'uploading' } });
  const uploads = events.filter((e) => e.type === 'upload');
  assert.ok(uploads.length >= 4, `${uploads.length} upload events (one per PATCH at least)`);
  for (let i = 1; i < uploads.length; i++) assert.ok(uploads[i].data.receivedBytes >= uploads[i - 1].data.receivedBytes, 'non-decreasing');
  assert.equal(uploads.at(-1)!.data, { receivedBytes: bytes.length, totalBytes: bytes.length });
  const pending = events.findIndex((e) => e.type === 'status' && e.data.status === 'pending');
  assert.ok(pending > events.lastIndexOf(uploads.at(-1)!), 'pending after the last upload event');
  assert.is(events.at(-1)!.type, 'completed');
  assert.ok(events.some((e) => e.type === 'segment'));
});

test('X-HTTP-Method-Override: PATCH through POST (clients behind restrictive proxies)', async () => {
  const t = tusUpload(bytes.subarray(0, 300_000), { overridePatchMethod: true, metadata: { filename: 'part.mp4' } });
  const url = await t.done;
  assert.ok(stored(idOf(url)).equals(bytes.subarray(0, 300_000)));
  await srv.server.service.cleanup(idOf(url));
});

test.run();
