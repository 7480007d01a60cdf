// Queue limits, cancel while queued, auth, and restart after kill -9 (child processes).
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, pollStatus, spawnServer, startTestServer, tempDir, upload } from '../helpers/server.js';

let dir: string;
let small: string;
let long: string;

test.before(async () => {
  dir = tempDir();
  small = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: true, name: 'small.mp4' });
  long = await makeTestVideo(dir, { seconds: 90, width: 640, height: 360, audio: true, name: 'long.mp4' });
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('more uploads than the queue holds: 503 busy with Retry-After; cancel while queued', async () => {
  const srv = await startTestServer({ ENGINE_CONCURRENCY: '1', QUEUE_LIMIT: '1' });
  try {
    const api = `${srv.url}/api/v1/video`;
    const a = await upload(`${api}/upload`, long);
    const b = await upload(`${api}/upload`, long);
    assert.is(a.status, 202);
    assert.is(b.status, 202);
    const c = await upload(`${api}/upload`, small);
    assert.is(c.status, 503, JSON.stringify(c.body));
    assert.is(c.body.error.code, 'busy');
    assert.ok(Number(c.headers.get('retry-after')) >= 1, 'Retry-After');

    const queued = (await getJson(`${api}/status/${b.body.sessionId}`)).body;
    assert.is(queued.status, 'pending');
    const cancel = await getJson(`${api}/cancel/${b.body.sessionId}`, { method: 'POST' });
    assert.is(cancel.status, 200);
    assert.is((await getJson(`${api}/status/${b.body.sessionId}`)).body.status, 'cancelled');

    // Room again: the queue accepts one more.
    const d = await upload(`${api}/upload`, small);
    assert.is(d.status, 202);
    // Cleanup of a running session stops it and deletes it.
    const del = await getJson(`${api}/cleanup/${a.body.sessionId}`, { method: 'DELETE' });
    assert.is(del.status, 200);
    const fin = await pollStatus(srv.url, d.body.sessionId, isTerminalStatus);
    assert.is(fin.status, 'completed', 'the queued session runs once the slot frees');
  } finally {
    await srv.close();
  }
});

test('API_TOKEN: 401 without the token, /health stays open, SSE and WS accept ?token=', async () => {
  const srv = await startTestServer({ API_TOKEN: 's3cret' });
  try {
    const api = `${srv.url}/api/v1/video`;
    assert.is((await getJson(`${srv.url}/health`)).status, 200);
    const noAuth = await upload(`${api}/upload`, small);
    assert.is(noAuth.status, 401);
    assert.is(noAuth.body.error.code, 'unauthorized');
    const wrong = await getJson(`${api}/status/V1StGXR8_Z5jdHi6B-myT`, { headers: { authorization: 'Bearer nope' } });
    assert.is(wrong.status, 401);
    assert.is((await getJson(`${srv.url}/metrics`)).status, 401);
    const auth = { authorization: 'Bearer s3cret' };
    const up = await upload(`${api}/upload`, small, {}, { headers: auth });
    assert.is(up.status, 202);
    const id = up.body.sessionId;
    assert.is((await getJson(`${api}/status/${id}?token=s3cret`)).status, 401, 'query token only for SSE/WS');
    await pollStatus(srv.url, id, isTerminalStatus, 60_000, { headers: auth });
    const sse = await fetch(`${api}/events/${id}?token=s3cret`);
    assert.is(sse.status, 200);
    assert.match(await sse.text(), /event: completed/);
    assert.is((await fetch(`${api}/events/${id}`)).status, 401);

    const opened = (url: string) =>
      new Promise<boolean>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('open', () => {
          ws.close();
          resolve(true);
        });
        ws.on('error', () => resolve(false));
      });
    assert.is(await opened(`ws://127.0.0.1:${srv.port}/api/v1/video/ws`), false);
    assert.is(await opened(`ws://127.0.0.1:${srv.port}/api/v1/video/ws?token=s3cret`), true);
  } finally {
    await srv.close();
  }
});

/** Uploads `long`, waits until it has segments, kills the server with SIGKILL. */
async function killMidJob(dataDir: string, env: Record<string, string> = {}) {
  const first = await spawnServer({ DATA_DIR: dataDir, ENGINE_CONCURRENCY: '1', ...env });
  const api = `${first.url}/api/v1/video`;
  const done = await upload(`${api}/upload`, small);
  assert.is(done.status, 202);
  await pollStatus(first.url, done.body.sessionId, isTerminalStatus);
  const before = (await getJson(`${api}/results/${done.body.sessionId}`)).body;
  const running = await upload(`${api}/upload`, long);
  await pollStatus(first.url, running.body.sessionId, (s) => s.status === 'processing' && s.segments.completed > 0);
  first.proc.kill('SIGKILL');
  await first.exited;
  return { done: done.body.sessionId as string, before, running: running.body.sessionId as string };
}

/** The events of a session's log, through SSE (the stream ends after the terminal event). */
async function sseEvents(base: string, id: string): Promise<Array<{ type: string; data: any }>> {
  const text = await (await fetch(`${base}/api/v1/video/events/${id}`)).text();
  return [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ type: m[1], data: JSON.parse(m[2]) }));
}

test('kill -9 mid-job, restart on the same DATA_DIR: completed survive, the running job runs again to complete results', async () => {
  const dataDir = tempDir('vas-restart-');
  const { done, before, running } = await killMidJob(dataDir);
  const second = await spawnServer({ DATA_DIR: dataDir });
  try {
    const api2 = `${second.url}/api/v1/video`;
    const after = await getJson(`${api2}/results/${done}`);
    assert.is(after.status, 200);
    assert.equal(after.body, before, 'results identical after restart');
    const st = await pollStatus(second.url, running, isTerminalStatus, 120_000);
    assert.is(st.status, 'completed', JSON.stringify(st));
    const events = await sseEvents(second.url, running);
    const takeovers = events.filter((e) => e.type === 'progress' && typeof e.data.attempt === 'number');
    assert.is(takeovers.length, 1);
    assert.is(takeovers[0].data.attempt, 2);
    assert.match(takeovers[0].data.currentStep, /Taken over after an interruption: attempt 2 of 3/);
    // Each segment once in the log, and the results those of a complete run.
    const indexes = events.filter((e) => e.type === 'segment').map((e) => e.data.index);
    assert.equal(indexes, [...new Set(indexes)], 'no segment index twice');
    const res = (await getJson(`${api2}/results/${running}`)).body.results;
    assert.equal(indexes.slice().sort((a, b) => a - b), res.all_analyses.map((s: any) => s.index), 'the log has every segment of the results, once');
    assert.is(res.total_segments_analyzed, res.all_analyses.length);
    const first = takeovers[0];
    const segBefore = events.slice(0, events.indexOf(first)).filter((e) => e.type === 'segment').length;
    assert.ok(segBefore > 0, 'segments from the interrupted run stayed in the log');
  } finally {
    second.proc.kill('SIGTERM');
    assert.is(await second.exited, 0, 'SIGTERM exits cleanly');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('kill -9 mid-job with MAX_ATTEMPTS=1: after the restart the session fails with interrupted, its log kept', async () => {
  const dataDir = tempDir('vas-restart-');
  const { running } = await killMidJob(dataDir);
  const second = await spawnServer({ DATA_DIR: dataDir, MAX_ATTEMPTS: '1' });
  try {
    const st = await pollStatus(second.url, running, isTerminalStatus);
    assert.is(st.status, 'failed');
    assert.is(st.error.code, 'interrupted');
    const sse = await (await fetch(`${second.url}/api/v1/video/events/${running}`)).text();
    assert.match(sse, /event: segment/);
    assert.match(sse, /event: failed\ndata: .*interrupted/);
  } finally {
    second.proc.kill('SIGTERM');
    await second.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('sessions expire after SESSION_TTL and their files are deleted', async () => {
  const srv = await startTestServer({ SESSION_TTL: '1s' });
  try {
    const up = await upload(`${srv.url}/api/v1/video/upload`, small);
    await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
    await new Promise((r) => setTimeout(r, 1200));
    assert.is(await srv.server.service.sweep(), 1);
    assert.is((await getJson(`${srv.url}/api/v1/video/status/${up.body.sessionId}`)).status, 404);
    assert.equal(fs.readdirSync(`${srv.dataDir}/sessions`), []);
  } finally {
    await srv.close();
  }
});

test.run();
