// The old synchronous endpoints keep their shapes, with both field names.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let dir: string;
let video: string;

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 5, width: 320, height: 240, audio: true });
  srv = await startTestServer({ MAX_UPLOAD_BYTES: '1MB' });
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

for (const field of ['video', 'file']) {
  test(`POST /analyze/highlights with "${field}"`, async () => {
    const r = await upload(`${srv.url}/analyze/highlights`, video, { min_significance: '3', max_highlights: '2' }, { fileField: field });
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.is(r.body.success, true);
    assert.is(r.body.analysis_type, 'highlights');
    assert.is(r.body.data.analysis_type, 'highlights');
    assert.is(r.body.data.settings.min_significance, 3);
    assert.ok(r.body.data.highlights.length <= 2);
  });

  test(`POST /analyze/workout with "${field}"`, async () => {
    const r = await upload(`${srv.url}/analyze/workout`, video, { segment_duration: '2', user_prompt: 'count my reps' }, { fileField: field });
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.is(r.body.analysis_type, 'workout_timestamps');
    assert.is(r.body.data.analysis_type, 'workout_with_timestamps');
    assert.ok(r.body.data.segment_analyses.length >= 2);
    assert.type(r.body.data.summary.total_reps, 'number');
  });
}

test('legacy answers carry warnings, analysed_duration, shots, ranking and the moment fields unchanged', async () => {
  const silent = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: false, name: 'silent.mp4' });
  const r = await upload(`${srv.url}/analyze/highlights`, silent);
  assert.is(r.status, 200, JSON.stringify(r.body));
  const data = r.body.data;
  assert.equal(data.warnings.map((w: { code: string }) => w.code), ['no_audio']);
  assert.type(data.warnings[0].message, 'string');
  assert.ok(Math.abs(data.video.analysed_duration - 4) < 0.3, `analysed ${data.video.analysed_duration}`);
  assert.equal(data.shots, [{ index: 0, start_timestamp: 0, end_timestamp: data.video.analysed_duration }]);
  assert.equal([...data.ranking].sort((a: number, b: number) => a - b), data.all_analyses.map((s: { index: number }) => s.index));
  for (const s of data.all_analyses) {
    assert.equal(s.cut_timestamps, []);
    assert.is(s.audio_peak_timestamp, null);
    assert.type(s.subject_motion, 'number');
    assert.ok(s.camera_motion === null || typeof s.camera_motion.description === 'string');
  }
  const w = await upload(`${srv.url}/analyze/workout`, silent, { segment_duration: '2' });
  assert.is(w.status, 200, JSON.stringify(w.body));
  assert.equal(w.body.data.warnings.map((x: { code: string }) => x.code), ['no_audio']);
  assert.ok(w.body.data.video.analysed_duration > 3.5);
});

test('legacy errors use {"detail"}', async () => {
  const missing = await upload(`${srv.url}/analyze/highlights`, null, { min_significance: '3' });
  assert.is(missing.status, 400);
  assert.type(missing.body.detail, 'string');
  const bad = await upload(`${srv.url}/analyze/highlights`, video, { min_significance: '11' });
  assert.is(bad.status, 400);
  assert.match(bad.body.detail, /min_significance/);
  const text = path.join(dir, 'x.mp4');
  fs.writeFileSync(text, 'hello world, not a video at all. '.repeat(40));
  const notVideo = await upload(`${srv.url}/analyze/workout`, text);
  assert.is(notVideo.status, 415);
  assert.type(notVideo.body.detail, 'string');
  const big = path.join(dir, 'big.mp4');
  fs.writeFileSync(big, Buffer.concat([fs.readFileSync(video).subarray(0, 1024), Buffer.alloc(3 << 20)]));
  const tooBig = await upload(`${srv.url}/analyze/highlights`, big).catch(() => null);
  if (tooBig) {
    assert.is(tooBig.status, 413);
    assert.type(tooBig.body.detail, 'string');
  }
});

test('legacy analyses are sessions too: visible over REST while they run', async () => {
  const pending = upload(`${srv.url}/analyze/highlights`, video);
  let seen: any = null;
  for (let i = 0; i < 200 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const ids = fs.readdirSync(path.join(srv.dataDir, 'sessions'));
    for (const id of ids) {
      const st = await getJson(`${srv.url}/api/v1/video/status/${id}`);
      if (st.status === 200 && st.body.status === 'processing') seen = st.body;
    }
  }
  const r = await pending;
  assert.is(r.status, 200);
  assert.ok(seen, 'a processing session was visible');
});

test.run();
