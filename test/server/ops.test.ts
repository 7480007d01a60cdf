// Operating the service (child processes, real sockets): strict config, JSON logs with request
// ids, `npm start` and SIGTERM drains, prom-client metrics, VIDEO_TTL and disk use per session.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { ROOT, TEST_STORE, getJson, isTerminalStatus, pollStatus, spawnServer, tempDir, upload, type ChildServer } from '../helpers/server.js';

let dir: string;
let small: string;
let long: string;
const started: ChildServer[] = [];

test.before(async () => {
  dir = tempDir();
  small = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: true, name: 'small.mp4' });
  long = await makeTestVideo(dir, { seconds: 90, width: 640, height: 360, audio: true, name: 'long.mp4' });
});
test.after(() => {
  for (const s of started) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ChildServer> {
  const s = await spawnServer({ DATA_DIR: tempDir('vas-ops-'), ...env });
  started.push(s);
  return s;
}

/** The server's stdout lines as JSON objects (every line must be one). */
function logLines(out: string): any[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await f();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('config: a bad variable exits with status 2 and one line naming it, no stack trace', () => {
  const cases: Record<string, string> = {
    PORT: '70000',
    HOST: 'not a host!',
    MAX_UPLOAD_BYTES: 'xyz',
    ENGINE_CONCURRENCY: '0',
    QUEUE_LIMIT: '-1',
    MAX_OPEN_UPLOADS: '1.5',
    SESSION_TTL: 'forever',
    VIDEO_TTL: '0',
    MODEL_MAX_TOKENS: 'many',
    MODEL_TEMPERATURE: 'hot',
    LOG_LEVEL: 'loud',
    SHUTDOWN_GRACE: '-3s',
    CORS_ORIGINS: 'not an origin',
    PUBLIC_URL: 'ftp://example.com',
    WEBHOOK_URL: 'file:///etc/passwd',
    WEBHOOK_RETRY_BASE: 'soon',
    WEBHOOK_MAX_AGE: '0',
  };
  for (const [key, value] of Object.entries(cases)) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/src/server/main.js')], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDir('vas-cfg-'), [key]: value },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const out = (r.stdout + r.stderr).trim();
    assert.is(r.status, 2, `${key}=${value}: exit ${r.status}: ${out}`);
    assert.is(out.split('\n').length, 1, `${key}: one line: ${out}`);
    assert.ok(out.includes(`${key}: expected`) || out.includes(`${key}: must be`), `${key} named: ${out}`);
    assert.ok(out.includes(JSON.stringify(value)) || key === 'CORS_ORIGINS', `${key}: shows the value: ${out}`);
    assert.not.match(out, /at .*\.js:\d+/, 'no stack trace');
  }
});

test('logs: JSON lines, X-Request-Id kept and returned, one line per request, session lifecycle, LOG_LEVEL', async () => {
  const srv = await start({ ENGINE_CONCURRENCY: '1' });
  const api = `${srv.url}/api/v1/video`;
  const health = await fetch(`${srv.url}/health`, { headers: { 'X-Request-Id': 'probe-42' } });
  assert.is(health.headers.get('x-request-id'), 'probe-42');
  const gen = (await fetch(`${srv.url}/health`)).headers.get('x-request-id');
  assert.match(gen ?? '', /^[0-9a-f-]{36}$/, 'a request id is made when none was sent');

  const ok = await upload(`${api}/upload`, small, {}, { headers: { 'X-Request-Id': 'up-1' } });
  assert.is(ok.status, 202);
  assert.is(ok.headers.get('x-request-id'), 'up-1');
  await pollStatus(srv.url, ok.body.sessionId, isTerminalStatus);
  const running = await upload(`${api}/upload`, long);
  await pollStatus(srv.url, running.body.sessionId, (s) => s.status === 'processing');
  assert.is((await getJson(`${api}/cancel/${running.body.sessionId}`, { method: 'POST' })).status, 200);
  // a tus upload of bytes that are not a video fails the session with unsupported_media
  const create = await fetch(`${srv.url}/api/v1/video/uploads`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '2048' },
  });
  assert.is(create.status, 201);
  const loc = new URL(create.headers.get('location')!, srv.url).href;
  const patch = await fetch(loc, {
    method: 'PATCH',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
    body: Buffer.alloc(2048, 7),
  });
  assert.is(patch.status, 204);
  const tusId = loc.split('/').pop()!;
  await pollStatus(srv.url, tusId, isTerminalStatus);

  const lines = await until('the lifecycle lines', () => {
    const l = logLines(srv.output());
    return l.some((x) => x.msg === 'session failed' && x.sessionId === tusId) && l;
  });
  for (const l of lines) {
    assert.type(l.time, 'string');
    assert.type(l.level, 'string');
  }
  const req = lines.find((l) => l.msg === 'request' && l.reqId === 'up-1');
  assert.ok(req, 'the upload request has a line with its request id');
  assert.is(req.method, 'POST');
  assert.is(req.route, 'upload');
  assert.is(req.status, 202);
  assert.type(req.durationMs, 'number');
  assert.ok(lines.find((l) => l.msg === 'request' && l.reqId === 'probe-42' && l.route === 'health' && l.status === 200));
  const of = (id: string, msg: string) => lines.find((l) => l.sessionId === id && l.msg === msg);
  assert.ok(of(ok.body.sessionId, 'session created'));
  assert.ok(of(ok.body.sessionId, 'session started'));
  assert.type(of(ok.body.sessionId, 'session finished')?.durationMs, 'number');
  assert.ok(of(running.body.sessionId, 'session cancelled'));
  assert.is(of(tusId, 'session failed')?.code, 'unsupported_media');

  // LOG_LEVEL=warn: no request lines
  const quiet = await start({ LOG_LEVEL: 'warn' });
  await fetch(`${quiet.url}/health`);
  await sleep(300);
  assert.is(logLines(quiet.output()).filter((l) => l.msg === 'request').length, 0, quiet.output());
});

test('logs: a model folder that fails to load is an error line', async () => {
  const broken = path.join(dir, 'broken-model');
  fs.mkdirSync(broken, { recursive: true });
  fs.writeFileSync(path.join(broken, 'config.json'), '{"model_type": "smolvlm", "oops": ');
  const srv = await start({ MODEL_DIR: broken });
  const line = await until('the model error line', () => logLines(srv.output()).find((l) => l.level === 'error' && /model failed to load/.test(l.msg)));
  assert.is(line.engine, 'smolvlm');
});

test('logs: readable (not JSON) lines when stdout is a terminal', async () => {
  const dataDir = tempDir('vas-tty-');
  // `script` gives the server a pseudo-terminal as stdout
  const cmd = `PORT=0 HOST=127.0.0.1 DATA_DIR=${dataDir} exec ${process.execPath} ${path.join(ROOT, 'dist/src/server/main.js')}`;
  const proc = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  try {
    await until('the listening line', () => /listening on http/.test(out));
    assert.ok(!out.includes('{"level"'), out);
    assert.match(out, /INFO/);
  } finally {
    proc.kill('SIGKILL');
  }
});

test('npm start stops on SIGTERM sent to its pid (the server is exec-ed, not left running)', async () => {
  const dataDir = tempDir('vas-npm-');
  const npm = spawn('npm', ['start'], { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (d) => (out += d));
  npm.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => npm.on('exit', (c) => r(c)));
  const line = await until('the listening line', () => logLines(out).find((l) => /listening on/.test(l.msg)));
  const serverPid: number = line.pid;
  assert.ok(serverPid > 0);
  npm.kill('SIGTERM');
  assert.is(await exited, 0, out);
  const alive = () => {
    try {
      process.kill(serverPid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await until('the server process to end', () => !alive(), 10_000).catch(() => {});
  if (alive()) process.kill(serverPid, 'SIGKILL');
  assert.not.ok(alive(), 'the node server is gone');
});

test('SIGTERM drains: 503 for new uploads, /health draining, the running analysis finishes, queued ones wait for the next start', async () => {
  const dataDir = tempDir('vas-drain-');
  const srv = await spawnServer({ DATA_DIR: dataDir, ENGINE_CONCURRENCY: '1', SHUTDOWN_GRACE: '120s' });
  started.push(srv);
  const api = `${srv.url}/api/v1/video`;
  const running = await upload(`${api}/upload`, long);
  const queued = await upload(`${api}/upload`, small);
  await pollStatus(srv.url, running.body.sessionId, (s) => s.status === 'processing');
  // followed over SSE: the process exits right after the analysis ends
  const followed = fetch(`${api}/events/${running.body.sessionId}`).then((r) => r.text());
  await sleep(200);
  srv.proc.kill('SIGTERM');
  await until('the drain', () => /draining/.test(srv.output()));
  const refused = await upload(`${api}/upload`, small);
  assert.is(refused.status, 503, JSON.stringify(refused.body));
  assert.is(refused.body.error.code, 'unavailable');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  const tus = await fetch(`${srv.url}/api/v1/video/uploads`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '100' } });
  assert.is(tus.status, 503);
  const health = await getJson(`${srv.url}/health`);
  assert.is(health.status, 503);
  assert.is(health.body.status, 'draining');
  // status and events keep being served while the analysis runs to its end
  assert.is((await getJson(`${api}/status/${running.body.sessionId}`)).body.status, 'processing');
  assert.match(await followed, /event: completed/);
  assert.is(await srv.exited, 0, srv.output());
  assert.ok(logLines(srv.output()).some((l) => l.msg === 'session finished' && l.sessionId === running.body.sessionId));
  if (TEST_STORE === 'journal') {
    // (with Redis the log is a Redis stream, not a journal file)
    assert.is(JSON.parse(fs.readFileSync(`${dataDir}/sessions/${queued.body.sessionId}/events.jsonl`, 'utf8').trim().split('\n').pop()!).data.status, 'pending');
  }

  const again = await spawnServer({ DATA_DIR: dataDir });
  started.push(again);
  const fin = await pollStatus(again.url, queued.body.sessionId, isTerminalStatus);
  assert.is(fin.status, 'completed', 'the queued session ran at the next start');
  again.proc.kill('SIGTERM');
  assert.is(await again.exited, 0);
});

test('SIGTERM after SHUTDOWN_GRACE: running analyses are stopped without a terminal event, exit 0, and run again at the next start', async () => {
  const dataDir = tempDir('vas-grace-');
  const srv = await spawnServer({ DATA_DIR: dataDir, SHUTDOWN_GRACE: '300ms' });
  started.push(srv);
  const up = await upload(`${srv.url}/api/v1/video/upload`, long);
  await pollStatus(srv.url, up.body.sessionId, (s) => s.status === 'processing');
  const ws = await import('ws');
  const sock = new ws.default(`ws://127.0.0.1:${srv.port}/api/v1/video/ws`);
  await new Promise((r) => sock.on('open', r));
  const sockClosed = new Promise((r) => sock.on('close', r));
  const sse = await fetch(`${srv.url}/api/v1/video/events/${up.body.sessionId}`);
  const sseDone = sse.text().catch(() => 'closed');
  srv.proc.kill('SIGTERM');
  assert.is(await srv.exited, 0, srv.output());
  await sockClosed; // WebSockets are closed
  await sseDone; // SSE streams end
  if (TEST_STORE === 'journal') {
    // (with Redis the log is a Redis stream, not a journal file)
    const events = fs.readFileSync(`${dataDir}/sessions/${up.body.sessionId}/events.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.not.ok(events.some((e) => ['completed', 'failed', 'cancelled'].includes(e.type)), 'no terminal event was written');
    assert.is(events.filter((e) => e.type === 'status').pop().data.status, 'processing');
  }
  assert.ok(logLines(srv.output()).some((l) => l.msg === 'analysis stopped by the shutdown' && l.sessionId === up.body.sessionId));

  // the next start runs it again (i10core's restart recovery) to complete results
  const again = await spawnServer({ DATA_DIR: dataDir });
  started.push(again);
  const fin = await pollStatus(again.url, up.body.sessionId, isTerminalStatus, 180_000);
  assert.is(fin.status, 'completed', JSON.stringify(fin));
  again.proc.kill('SIGTERM');
  assert.is(await again.exited, 0);
});

test('metrics: prom-client defaults, counters, analysis histogram, bytes ingested, SSE kept out of request durations', async () => {
  const srv = await start({ ENGINE_CONCURRENCY: '1' });
  const api = `${srv.url}/api/v1/video`;
  const done = await upload(`${api}/upload`, small);
  await pollStatus(srv.url, done.body.sessionId, isTerminalStatus);
  const running = await upload(`${api}/upload`, long);
  await pollStatus(srv.url, running.body.sessionId, (s) => s.status === 'processing');
  const ctl = new AbortController();
  const sse = await fetch(`${api}/events/${running.body.sessionId}`, { signal: ctl.signal });
  const reader = sse.body!.getReader();
  await reader.read();
  try {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    // (prom-client's own nodejs_active_*_total are gauges: only this service's names are checked)
    for (const [name, type] of types) if (name.endsWith('_total') && !name.startsWith('nodejs_')) assert.is(type, 'counter', `${name} is a counter`);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.ok(types.has(name), `default metric ${name}`);
    }
    assert.is(types.get('video_jobs_total'), 'counter');
    assert.match(text, /video_jobs_total\{outcome="completed"\} 1/);
    assert.is(types.get('video_analysis_duration_seconds'), 'histogram');
    assert.match(text, /video_analysis_duration_seconds_count\{type="highlights",engine="signal",outcome="completed"\} 1/);
    const ingested = Number(/^video_ingested_bytes_total (\d+)/m.exec(text)?.[1]);
    assert.ok(ingested >= fs.statSync(small).size + fs.statSync(long).size, `bytes ingested ${ingested}`);
    assert.match(text, /video_open_connections\{kind="sse"\} 1/);
    assert.match(text, /http_requests_total\{route="events",method="GET",status="200"\} 1/);
    assert.not.match(text, /http_request_duration_seconds_count\{route="events"\}/, 'the open stream is not a request duration');
    assert.match(text, /http_request_duration_seconds_count\{route="upload"\} 2/);
    for (const name of ['video_sessions', 'video_queue_depth', 'video_jobs_running', 'video_uploads_open', 'video_engine_ready', 'video_storage_writable']) {
      assert.is(types.get(name), 'gauge', name);
    }
  } finally {
    ctl.abort();
  }
});

test('VIDEO_TTL deletes the video of an ended session, keeping its status and results; disk use in the status', async () => {
  const srv = await start({ VIDEO_TTL: '1s' });
  const api = `${srv.url}/api/v1/video`;
  const up = await upload(`${api}/upload`, small);
  const fin = await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
  assert.is(fin.status, 'completed');
  assert.ok(fin.storage.bytes > fs.statSync(small).size, `disk use counts the video: ${JSON.stringify(fin.storage)}`);
  // storage.bytes is measured at most once a second: wait for both to show the deletion
  const after = await pollStatus(srv.url, up.body.sessionId, (s) => s.storage.video === false && s.storage.bytes < fs.statSync(small).size, 15_000);
  assert.ok(after.storage.bytes > 0 && after.storage.bytes < fs.statSync(small).size, JSON.stringify(after.storage));
  assert.is(after.status, 'completed');
  const res = await getJson(`${api}/results/${up.body.sessionId}`);
  assert.is(res.status, 200, 'results outlive the video');
  // A clip asked for after the video went cannot be cut any more: 410, not a decoding error.
  const clip = await fetch(`${srv.url}${res.body.results.all_analyses[0].clip_url}`);
  assert.is(clip.status, 410);
  assert.is((await clip.json()).error.code, 'gone');
});

test.run();
