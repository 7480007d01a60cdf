// The SmolVLM2 engine through the service, on the tiny fixture checkpoints (their text is
// gibberish; the plumbing is real): worker-thread inference, segments in signal order, workout
// naming, a degraded /health when the model cannot load, cancel during the model pass.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, type HighlightsResult } from '../../src/engine/index.js';
import { VideoClient, type WorkoutResult } from '../../client/src/node.js';
import { makeTestVideo, makeWorkoutVideo } from '../helpers/media.js';
import { ROOT, getJson, isTerminalStatus, pollStatus, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

const FIXTURE = path.join(ROOT, '..', 'shared', 'fixtures', 'smolvlm', 'base', 'model');
const have = fs.existsSync(FIXTURE);

let srv: TestServer;
let dir: string;
let video: string;

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 16, width: 320, height: 240, audio: true });
  if (!have) return;
  srv = await startTestServer({ MODEL_DIR: FIXTURE, MODEL_MAX_TOKENS: '24' });
});
test.after(async () => {
  await srv?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sseEvents = async (url: string) => {
  const body = await (await fetch(url)).text();
  return [...body.matchAll(/^id: (\d+)\nevent: (\w+)\ndata: (.*)$/gm)].map((m) => ({ seq: +m[1], type: m[2], data: JSON.parse(m[3]) }));
};

test('health reports the model engine once loaded', async () => {
  if (!have) return console.log('  (skipped: ../shared/fixtures not present)');
  for (let i = 0; i < 100; i++) {
    const h = (await getJson(`${srv.url}/health`)).body;
    if (h.engine.state !== 'loading') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const h = (await getJson(`${srv.url}/health`)).body;
  assert.is(h.status, 'healthy');
  assert.is(h.engine.name, 'smolvlm');
  assert.is(h.engine.state, 'ready');
});

test('highlights: every segment described by the model, most promising segments first', async () => {
  if (!have) return;
  const up = await upload(`${srv.url}/api/v1/video/upload`, video, { params: '{"segment_duration": 2}' });
  assert.is(up.status, 202);
  const latencies: number[] = [];
  let sawModelStep = false;
  for (;;) {
    const t0 = performance.now();
    const st = (await getJson(`${srv.url}/api/v1/video/status/${up.body.sessionId}`)).body;
    latencies.push(performance.now() - t0);
    if (st.currentStep === 'Describing segments') sawModelStep = true;
    if (isTerminalStatus(st)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(sawModelStep, 'status showed the model step');
  // The model runs in a worker: the server's thread keeps answering.
  assert.ok(Math.max(...latencies) < 250, `slowest status answer ${Math.max(...latencies).toFixed(1)} ms`);

  const res = (await getJson(`${srv.url}/api/v1/video/results/${up.body.sessionId}`)).body.results as HighlightsResult;
  assert.equal(res.engine, { name: 'smolvlm', model: 'model' });
  assert.is(res.all_analyses.length, 8);
  for (const s of res.all_analyses) {
    assert.ok(['model', 'signal'].includes(s.score_source!));
    assert.ok(Number.isInteger(s.significance_score) && s.significance_score >= 1 && s.significance_score <= 10);
    assert.type(s.description, 'string');
  }
  assert.ok(res.highlights.every((h) => h.significance_score >= 6));

  // Segment events came in the order of the signal engine's scores for the same file.
  const signal = createSignalEngine();
  const job = signal.analyze({ type: 'highlights', file: video, params: { min_significance: 6, max_highlights: 10, segment_duration: 2 } });
  const base = (await job.result) as HighlightsResult;
  await signal.close();
  const expected = [...base.all_analyses].sort((a, b) => b.significance_score - a.significance_score || a.index - b.index).map((s) => s.index);
  const events = await sseEvents(`${srv.url}/api/v1/video/events/${up.body.sessionId}`);
  assert.equal(events.filter((e) => e.type === 'segment').map((e) => e.data.index), expected);
  // The descriptions are the model's, not the signal engine's.
  const changed = res.all_analyses.filter((s, i) => s.description !== base.all_analyses[i].description);
  assert.ok(changed.length > 0, 'model text replaced signal descriptions');
});

test('workout: sets get names from the model (through the typed client)', async () => {
  if (!have) return;
  const w = await makeWorkoutVideo(dir);
  const client = new VideoClient({ baseUrl: srv.url });
  const up = await client.upload(w.path, { analysisType: 'workout', params: { user_prompt: 'Name the exercise.' } });
  const r = await client.waitForResults<WorkoutResult>(up.sessionId);
  assert.is(r.engine.name, 'smolvlm');
  assert.ok(r.exercise_steps.length >= 2);
  assert.ok(r.exercise_steps.every((s) => typeof s.exercise_name === 'string' && !/^Set \d+$/.test(s.exercise_name)), JSON.stringify(r.exercise_steps));
  assert.is(r.summary.total_reps, r.exercise_steps.reduce((n: number, s: any) => n + s.rep_count, 0));
});

test('cancel during the model pass', async () => {
  if (!have) return;
  const long = await makeTestVideo(dir, { seconds: 60, width: 320, height: 240, audio: false, name: 'long.mp4' });
  const up = await upload(`${srv.url}/api/v1/video/upload`, long, { params: '{"segment_duration": 1}' });
  await pollStatus(srv.url, up.body.sessionId, (s) => s.currentStep === 'Describing segments' || isTerminalStatus(s));
  const c = await getJson(`${srv.url}/api/v1/video/cancel/${up.body.sessionId}`, { method: 'POST' });
  assert.is(c.status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await getJson(`${srv.url}/api/v1/video/status/${up.body.sessionId}`)).body.status, 'cancelled');
  // The worker is free again: a new analysis completes.
  const next = await upload(`${srv.url}/api/v1/video/upload`, video);
  assert.is((await pollStatus(srv.url, next.body.sessionId, isTerminalStatus, 120_000)).status, 'completed');
});

test('a model folder that fails to load: /health degraded with the reason, analyses run on signals', async () => {
  const broken = path.join(dir, 'broken-model');
  fs.mkdirSync(broken);
  fs.writeFileSync(path.join(broken, 'config.json'), '{"model_type": "smolvlm", "oops": ');
  const s2 = await startTestServer({ MODEL_DIR: broken });
  try {
    let h: any;
    for (let i = 0; i < 100; i++) {
      h = (await getJson(`${s2.url}/health`)).body;
      if (h.engine.state !== 'loading') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(h.status, 'degraded');
    assert.is(h.engine.state, 'degraded');
    assert.match(h.engine.detail, /model failed to load/);
    const up = await upload(`${s2.url}/api/v1/video/upload`, video);
    assert.is(up.status, 202);
    assert.is((await pollStatus(s2.url, up.body.sessionId, isTerminalStatus)).status, 'completed');
    const r = (await getJson(`${s2.url}/api/v1/video/results/${up.body.sessionId}`)).body.results;
    assert.is(r.engine.name, 'signal', 'the result says which engine produced it');
  } finally {
    await s2.close();
  }
});

test.run();
