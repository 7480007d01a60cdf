// REST v1 over a real socket with the real engine: the whole flow and every error in the contract.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, incomingFiles, isTerminalStatus, pollStatus, sharedMedia, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let video: string;
let dir: string;
const api = () => `${srv.url}/api/v1/video`;

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 6, width: 320, height: 240, audio: true });
  srv = await startTestServer({ MAX_UPLOAD_BYTES: String(16 * 1024 * 1024) });
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('upload → status → results → cleanup', async () => {
  const up = await upload(`${api()}/upload`, video, { analysis_type: 'highlights', params: '{"min_significance": 4}' });
  assert.is(up.status, 202, JSON.stringify(up.body));
  assert.match(up.body.sessionId, /^[A-Za-z0-9_-]{21}$/);
  assert.is(up.body.status, 'pending');
  const id = up.body.sessionId;

  const seen: number[] = [];
  const final = await pollStatus(srv.url, id, (s) => {
    seen.push(s.progress);
    return isTerminalStatus(s);
  });
  assert.is(final.status, 'completed', JSON.stringify(final));
  assert.is(final.progress, 1);
  assert.is(final.error, null);
  assert.is(final.analysisType, 'highlights');
  assert.ok(final.segments.total > 0 && final.segments.completed === final.segments.total);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], 'progress never decreases');
  assert.ok(Date.parse(final.updatedAt) >= Date.parse(final.createdAt));

  const res = await getJson(`${api()}/results/${id}`);
  assert.is(res.status, 200);
  assert.is(res.body.sessionId, id);
  assert.is(res.body.status, 'completed');
  const r = res.body.results;
  assert.is(r.analysis_type, 'highlights');
  assert.is(r.settings.min_significance, 4);
  assert.is(r.total_segments_analyzed, r.all_analyses.length);
  assert.ok(r.highlights.every((h: any) => h.significance_score >= 4));
  assert.ok(Math.abs(r.video.duration - 6) < 0.5, `duration ${r.video.duration}`);
  assert.not.match(JSON.stringify(res.body), srv.dataDir, 'no server paths in responses');

  const del = await getJson(`${api()}/cleanup/${id}`, { method: 'DELETE' });
  assert.equal(del.body, { sessionId: id, message: 'Session cleaned up' });
  assert.is((await getJson(`${api()}/status/${id}`)).status, 404);
  assert.is((await getJson(`${api()}/results/${id}`)).status, 404);
  assert.is(fs.existsSync(path.join(srv.dataDir, 'sessions', id)), false, 'files deleted');
});

test('the "video" field is accepted as an alias of "file"', async () => {
  const up = await upload(`${api()}/upload`, video, { analysis_type: 'workout' }, { fileField: 'video' });
  assert.is(up.status, 202, JSON.stringify(up.body));
  const final = await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
  assert.is(final.status, 'completed');
  const res = await getJson(`${api()}/results/${up.body.sessionId}`);
  assert.is(res.body.results.analysis_type, 'workout_with_timestamps');
});

const badRequests: Array<[string, Record<string, string>, RegExp, string?]> = [
  ['bad analysis_type', { analysis_type: 'dance' }, /analysis_type/],
  ['malformed params JSON', { params: '{min_significance:' }, /params/],
  ['params not an object', { params: '[1,2]' }, /params/],
  ['unknown params key', { params: '{"min_sig": 3}' }, /min_sig/],
  ['out of range value', { params: '{"max_highlights": 1000}' }, /max_highlights/],
  ['non-integer significance', { params: '{"min_significance": 2.5}' }, /min_significance/],
  ['unknown form field', { colour: 'red' }, /colour/],
  ['wrong file field name', {}, /"upload"|file/, 'upload'],
];
for (const [name, fields, re, fileField] of badRequests) {
  test(`400 bad_request: ${name}`, async () => {
    const up = await upload(`${api()}/upload`, video, fields, { fileField });
    assert.is(up.status, 400, JSON.stringify(up.body));
    assert.is(up.body.error.code, 'bad_request');
    assert.match(up.body.error.message, re);
  });
}

test('400 when the file is missing, or the body is not multipart', async () => {
  const up = await upload(`${api()}/upload`, null, { analysis_type: 'highlights' });
  assert.is(up.status, 400);
  assert.match(up.body.error.message, /file/);
  const raw = await getJson(`${api()}/upload`, { method: 'POST', body: '{"file": "x"}', headers: { 'content-type': 'application/json' } });
  assert.is(raw.status, 400);
  assert.is(raw.body.error.code, 'bad_request');
});

test('415 for a file that is not a video, before and after the probe', async () => {
  const text = path.join(dir, 'notes.mp4');
  fs.writeFileSync(text, 'this is not a video, just some text that someone renamed to mp4\n'.repeat(100));
  const up = await upload(`${api()}/upload`, text);
  assert.is(up.status, 415, JSON.stringify(up.body));
  assert.is(up.body.error.code, 'unsupported_media');

  const noise = path.join(dir, 'noise.bin');
  fs.writeFileSync(noise, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
  const up2 = await upload(`${api()}/upload`, noise);
  assert.is(up2.status, 415, JSON.stringify(up2.body));
  assert.match(up2.body.error.message, /video|decod|open|format/i);
});

test('415 for an audio-only file (shared media) and for malformed containers', async () => {
  const audio = sharedMedia('edge_audio_only_two_aac_tracks.mp4');
  if (!audio) return;
  const up = await upload(`${api()}/upload`, audio);
  assert.is(up.status, 415, JSON.stringify(up.body));
  assert.match(up.body.error.message, /video/i);
  for (const bad of ['edge_corrupt_stsc_stco.mp4', 'edge_fuzz_bad_header_56B.mp4']) {
    const r = await upload(`${api()}/upload`, sharedMedia(bad)!);
    assert.is(r.status, 415, `${bad}: ${JSON.stringify(r.body)}`);
  }
});

test('413 too_large while streaming, and nothing left behind', async () => {
  const big = path.join(dir, 'big.mp4');
  const head = fs.readFileSync(video).subarray(0, 64 * 1024);
  fs.writeFileSync(big, Buffer.concat([head, Buffer.alloc(17 * 1024 * 1024, 7)]));
  // The server reads the rest of the body (to disk: nowhere) before answering, so the client
  // sees the 413 rather than a reset.
  const r = await upload(`${api()}/upload`, big);
  assert.is(r.status, 413);
  assert.is(r.body.error.code, 'too_large');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(incomingFiles(srv.dataDir), [], 'no partial file');
});

test('413 from Content-Length before reading the body', async () => {
  const res = await fetch(`${api()}/upload`, {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(50 * 1024 * 1024) },
    body: 'x'.repeat(10),
  }).catch(() => null);
  if (res) {
    assert.is(res.status, 413);
    assert.is((await res.json()).error.code, 'too_large');
  }
});

test('unknown and malformed ids are 404 not_found on every route', async () => {
  const ids = ['V1StGXR8_Z5jdHi6B-myT', 'short', '../../etc/passwd', 'x'.repeat(21) + 'y'];
  for (const id of ids) {
    const enc = encodeURIComponent(id);
    for (const [method, route] of [['GET', 'status'], ['GET', 'results'], ['POST', 'cancel'], ['DELETE', 'cleanup'], ['GET', 'events']]) {
      const r = await getJson(`${api()}/${route}/${enc}`, { method });
      assert.is(r.status, 404, `${method} ${route}/${id}`);
      assert.is(r.body.error.code, 'not_found');
    }
  }
});

test('results are 409 not_ready while processing; cancel then conflicts correctly', async () => {
  const long = await makeTestVideo(dir, { seconds: 40, width: 640, height: 360, audio: true, name: 'long.mp4' });
  const up = await upload(`${api()}/upload`, long);
  assert.is(up.status, 202);
  const id = up.body.sessionId;
  await pollStatus(srv.url, id, (s) => s.status === 'processing');
  const r = await getJson(`${api()}/results/${id}`);
  assert.is(r.status, 409);
  assert.is(r.body.error.code, 'not_ready');
  assert.is(r.body.status, 'processing');
  assert.type(r.body.progress, 'number');

  const c = await getJson(`${api()}/cancel/${id}`, { method: 'POST' });
  assert.equal(c.body, { sessionId: id, status: 'cancelled' });
  const again = await getJson(`${api()}/cancel/${id}`, { method: 'POST' });
  assert.is(again.status, 200, 'cancel is idempotent');
  const st = (await getJson(`${api()}/status/${id}`)).body;
  assert.is(st.status, 'cancelled');
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await getJson(`${api()}/status/${id}`)).body.status, 'cancelled', 'terminal states never change');

  const done = await upload(`${api()}/upload`, video);
  await pollStatus(srv.url, done.body.sessionId, isTerminalStatus);
  const c2 = await getJson(`${api()}/cancel/${done.body.sessionId}`, { method: 'POST' });
  assert.is(c2.status, 409);
  assert.is(c2.body.error.code, 'conflict');
});

test('a client that disconnects mid-upload leaves no session and no partial file', async () => {
  const before = fs.readdirSync(path.join(srv.dataDir, 'sessions')).length;
  const http = await import('node:http');
  await new Promise<void>((resolve) => {
    const req = http.request(`${api()}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=BOUND', 'content-length': '1000000' },
    });
    req.on('error', () => resolve());
    req.write('--BOUND\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\nContent-Type: video/mp4\r\n\r\n');
    req.write(fs.readFileSync(video).subarray(0, 50_000));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 200);
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(incomingFiles(srv.dataDir), []);
  assert.is(fs.readdirSync(path.join(srv.dataDir, 'sessions')).length, before);
  assert.is((await getJson(`${srv.url}/health`)).status, 200, 'server still up');
});

test('health and metrics', async () => {
  const h = await getJson(`${srv.url}/health`);
  assert.is(h.body.status, 'healthy');
  assert.is(h.body.engine.name, 'signal');
  assert.is(h.body.engine.ready, true);
  assert.type(h.body.queue.queued, 'number');
  const m = await fetch(`${srv.url}/metrics`);
  const text = await m.text();
  assert.match(text, /http_requests_total\{route="upload",method="POST",status="202"\} \d+/);
  assert.match(text, /video_sessions\{status="completed"\} \d+/);
  assert.match(text, /video_queue_depth \d+/);
});

test('unknown endpoints are 404 JSON', async () => {
  const r = await getJson(`${srv.url}/api/v2/nothing`);
  assert.is(r.status, 404);
  assert.is(r.body.error.code, 'not_found');
});

test.run();
