// Clips, reel, thumbnails and storyboard over a real socket, cut and drawn by the real engine,
// checked with ffprobe/ffmpeg: durations, playability, picture sizes, VTT fragments inside
// their sprites, Range answers, 404/409, auth, cleanup.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeHighlightsVideo, makeTestVideo, makeWorkoutVideo, type HighlightsVideo } from '../helpers/media.js';
import { decodesCleanly, probeMedia } from '../helpers/probe.js';
import { pollStatus, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

const TOKEN = 'media-secret';
const auth = { Authorization: `Bearer ${TOKEN}` };
let srv: TestServer;
let dir: string;
let hv: HighlightsVideo;
let id: string;
let results: any;
const api = () => `${srv.url}/api/v1/video`;

async function fetchBytes(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url.startsWith('http') ? url : `${srv.url}${url}`, { headers: { ...auth, ...headers } });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

/** Fetches a media URL into a file (for ffprobe). */
async function download(url: string, name: string): Promise<string> {
  const { res, body } = await fetchBytes(url);
  assert.is(res.status, 200, `${url}: ${body.toString().slice(0, 200)}`);
  const file = path.join(dir, name);
  fs.writeFileSync(file, body);
  return file;
}

async function analyse(file: string, type: string, params: string): Promise<{ id: string; results: any }> {
  const up = await upload(`${api()}/upload`, file, { analysis_type: type, params }, { headers: auth });
  assert.is(up.status, 202, JSON.stringify(up.body));
  const sid = up.body.sessionId;
  const st = await pollStatus(srv.url, sid, (s) => ['completed', 'failed'].includes(s.status), 120_000, { headers: auth });
  assert.is(st.status, 'completed', JSON.stringify(st));
  const { body } = await fetchBytes(`${api()}/results/${sid}`);
  return { id: sid, results: JSON.parse(body.toString()).results };
}

test.before(async () => {
  dir = tempDir();
  hv = await makeHighlightsVideo(dir);
  srv = await startTestServer({ API_TOKEN: TOKEN, ENGINE_CONCURRENCY: '1' });
  ({ id, results } = await analyse(hv.path, 'highlights', '{}'));
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every segment links its clip and thumbnail; the result its reel and storyboard', () => {
  assert.ok(results.highlights.length >= 2, JSON.stringify(results.highlights));
  for (const s of [...results.all_analyses, ...results.highlights]) {
    assert.is(s.clip_url, `/api/v1/video/clip/${id}/${s.index}.mp4`);
    assert.is(s.thumbnail_url, `/api/v1/video/thumbnail/${id}/${s.index}.jpg`);
  }
  assert.is(results.reel_url, `/api/v1/video/reel/${id}.mp4`);
  assert.is(results.storyboard_url, `/api/v1/video/storyboard/${id}.vtt`);
  assert.not.match(JSON.stringify(results), srv.dataDir);
});

test('clips are playable MP4s of exactly their span (stream copy at a keyframe, re-encoded elsewhere)', async () => {
  const first = results.all_analyses[0]; // starts at 0: a keyframe
  const hl = results.highlights[0]; // starts mid-GOP
  for (const seg of [first, hl, results.all_analyses[results.all_analyses.length - 1]]) {
    const { res } = await fetchBytes(seg.clip_url, { Range: 'bytes=0-0' });
    assert.is(res.headers.get('content-type'), 'video/mp4');
    const file = await download(seg.clip_url, `clip-${seg.index}.mp4`);
    const p = await probeMedia(file);
    const want = seg.end_timestamp - seg.start_timestamp;
    assert.ok(Math.abs(p.duration - want) <= 0.1, `segment ${seg.index}: ${p.duration} s, want ${want} s`);
    assert.equal(p.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    await decodesCleanly(file);
  }
});

test('the reel joins the highlights in time order; concurrent first requests make one file', async () => {
  const statusOf = async () => JSON.parse((await fetchBytes(`${api()}/status/${id}`)).body.toString());
  const before = (await statusOf()).storage.bytes;
  const urls = [results.reel_url, results.reel_url, results.reel_url];
  const answers = await Promise.all(urls.map((u) => fetchBytes(u)));
  for (const a of answers) assert.is(a.res.status, 200);
  assert.ok(answers.every((a) => a.body.equals(answers[0].body)), 'same bytes for every request');
  const mediaDir = path.join(srv.dataDir, 'sessions', id, 'media');
  const reels = fs.readdirSync(mediaDir).filter((n) => n.startsWith('reel'));
  assert.equal(reels, ['reel.mp4']);
  // the session's disk use counts its media
  const counted = await pollStatus(srv.url, id, (s: any) => s.storage.bytes >= before + answers[0].body.length, 5_000, { headers: auth }).catch(() => null);
  assert.ok(counted, 'the reel counts in storage.bytes (measured at most once a second)');
  const file = path.join(dir, 'reel.mp4');
  fs.writeFileSync(file, answers[0].body);
  const p = await probeMedia(file);
  const sum = results.highlights.reduce((n: number, h: any) => n + h.end_timestamp - h.start_timestamp, 0);
  assert.ok(Math.abs(p.duration - sum) <= 0.1, `reel ${p.duration} s, highlights ${sum} s`);
  await decodesCleanly(file);
});

test('media answers carry the request id and CORS headers like every other answer', async () => {
  const { res } = await fetchBytes(results.all_analyses[0].thumbnail_url, { Origin: srv.url, 'X-Request-Id': 'media-check-1' });
  assert.is(res.status, 200);
  assert.is(res.headers.get('x-request-id'), 'media-check-1');
  assert.is(res.headers.get('access-control-allow-origin'), srv.url);
});

test('thumbnails are 320 px wide JPEGs that decode', async () => {
  for (const seg of results.all_analyses) {
    const { res } = await fetchBytes(seg.thumbnail_url);
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), 'image/jpeg');
  }
  const file = await download(results.highlights[0].thumbnail_url, 'thumb.jpg');
  const p = await probeMedia(file);
  assert.is(p.streams[0].codec_name, 'mjpeg');
  assert.is(p.streams[0].width, 320);
  assert.is(p.streams[0].height, 180);
  await decodesCleanly(file);
});

test('the storyboard is a WebVTT track whose #xywh fragments lie inside their sprites', async () => {
  // As a player fetches it: no header, the token in the query; the sprite links carry it on.
  const res = await fetch(`${srv.url}${results.storyboard_url}?token=${TOKEN}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.is(res.status, 200);
  assert.not.match((await fetchBytes(results.storyboard_url)).body.toString(), 'token=', 'no token added to a track fetched with the header');
  assert.is(res.headers.get('content-type'), 'text/vtt; charset=utf-8');
  const text = body.toString();
  assert.ok(text.startsWith('WEBVTT\n\n'), text.slice(0, 40));
  const cues = text.trim().split('\n\n').slice(1);
  assert.ok(cues.length >= 10, `${cues.length} cues`);
  const secs = (c: string) => c.split(':').reduce((n, x) => n * 60 + Number(x), 0);
  const sprites = new Map<string, { width: number; height: number }>();
  let lastEnd = 0;
  for (const cue of cues) {
    const m = /^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(cue);
    assert.ok(m, `cue: ${cue}`);
    const [start, end] = [secs(m![1]), secs(m![2])];
    assert.ok(Math.abs(start - lastEnd) < 1e-6 && end > start, `cue times ${m![1]} --> ${m![2]} after ${lastEnd}`);
    lastEnd = end;
    const url = m![3];
    assert.match(url, new RegExp(`^/api/v1/video/storyboard/${id}/\\d+\\.jpg\\?token=${TOKEN}$`));
    if (!sprites.has(url)) {
      const sprite = await fetch(`${srv.url}${url}`);
      assert.is(sprite.status, 200);
      assert.is(sprite.headers.get('content-type'), 'image/jpeg');
      const file = path.join(dir, `sprite-${sprites.size}.jpg`);
      fs.writeFileSync(file, Buffer.from(await sprite.arrayBuffer()));
      const p = await probeMedia(file);
      await decodesCleanly(file);
      sprites.set(url, { width: p.streams[0].width!, height: p.streams[0].height! });
    }
    const [x, y, w, h] = m!.slice(4).map(Number);
    const sp = sprites.get(url)!;
    assert.ok(w === 160 && h === 90 && x + w <= sp.width && y + h <= sp.height, `${cue} in ${sp.width}x${sp.height}`);
  }
  assert.ok(Math.abs(lastEnd - hv.duration) < 0.5, `cues end at ${lastEnd}`);
});

test('Range requests: first bytes, suffix, open-ended, unsatisfiable', async () => {
  const url = results.highlights[0].clip_url;
  const whole = await fetchBytes(url);
  const size = whole.body.length;
  assert.is(whole.res.headers.get('accept-ranges'), 'bytes');
  const first = await fetchBytes(url, { Range: 'bytes=0-99' });
  assert.is(first.res.status, 206);
  assert.is(first.res.headers.get('content-range'), `bytes 0-99/${size}`);
  assert.ok(first.body.equals(whole.body.subarray(0, 100)));
  const suffix = await fetchBytes(url, { Range: 'bytes=-50' });
  assert.is(suffix.res.status, 206);
  assert.is(suffix.res.headers.get('content-range'), `bytes ${size - 50}-${size - 1}/${size}`);
  assert.ok(suffix.body.equals(whole.body.subarray(size - 50)));
  const open = await fetchBytes(url, { Range: 'bytes=1000-' });
  assert.is(open.res.status, 206);
  assert.ok(open.body.equals(whole.body.subarray(1000)));
  const past = await fetchBytes(url, { Range: `bytes=${size}-` });
  assert.is(past.res.status, 416);
  assert.is(past.res.headers.get('content-range'), `bytes */${size}`);
});

test('media needs the token (header or ?token=)', async () => {
  const url = `${srv.url}${results.highlights[0].thumbnail_url}`;
  assert.is((await fetch(url)).status, 401);
  assert.is((await fetch(`${url}?token=wrong`)).status, 401);
  assert.is((await fetch(`${url}?token=${TOKEN}`)).status, 200);
});

test('404 for unknown sessions, indexes and names', async () => {
  const unknown = 'A'.repeat(21);
  for (const p of [
    `/clip/${unknown}/0.mp4`, `/reel/${unknown}.mp4`, `/thumbnail/${unknown}/0.jpg`, `/storyboard/${unknown}.vtt`, `/storyboard/${unknown}/0.jpg`,
    `/clip/${id}/999.mp4`, `/thumbnail/${id}/999.jpg`, `/storyboard/${id}/999.jpg`, `/clip/${id}/step-0.mp4`, `/clip/${id}/x.mp4`, `/reel/${id}.avi`,
  ]) {
    const { res, body } = await fetchBytes(`${api()}${p}`);
    assert.is(res.status, 404, p);
    assert.is(JSON.parse(body.toString()).error.code, 'not_found', p);
  }
});

test('409 not_ready before the segment or the result exists', async () => {
  // ENGINE_CONCURRENCY=1: the second upload waits while the first is analysed.
  const busy = await upload(`${api()}/upload`, hv.path, { analysis_type: 'highlights' }, { headers: auth });
  const queued = await upload(`${api()}/upload`, hv.path, { analysis_type: 'highlights' }, { headers: auth });
  const qid = queued.body.sessionId;
  for (const p of [`/clip/${qid}/0.mp4`, `/thumbnail/${qid}/0.jpg`, `/reel/${qid}.mp4`, `/storyboard/${qid}.vtt`]) {
    const { res, body } = await fetchBytes(`${api()}${p}`);
    assert.is(res.status, 409, p);
    assert.is(JSON.parse(body.toString()).error.code, 'not_ready', p);
  }
  for (const s of [busy.body.sessionId, qid]) await fetch(`${api()}/cleanup/${s}`, { method: 'DELETE', headers: auth });
});

test('rotated video: thumbnails and clips are turned like the video', async () => {
  const file = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, rotation: 90 });
  const r = await analyse(file, 'highlights', '{"segment_duration": 2}');
  const thumb = await probeMedia(await download(r.results.all_analyses[1].thumbnail_url, 'rot.jpg'));
  assert.is(thumb.streams[0].width, 240); // portrait: 240x320 once turned
  assert.is(thumb.streams[0].height, 320);
  const clip = await probeMedia(await download(r.results.all_analyses[1].clip_url, 'rot.mp4'));
  const source = await probeMedia(file);
  const rotation = clip.streams.find((s) => s.codec_type === 'video')!.rotation;
  assert.ok(rotation !== undefined && rotation !== 0, `clip rotation ${rotation}`);
  assert.is(rotation, source.streams.find((s) => s.codec_type === 'video')!.rotation);

  // Expiry deletes the media with the session.
  const sessionDir = path.join(srv.dataDir, 'sessions', r.id);
  assert.ok(fs.existsSync(path.join(sessionDir, 'media', 'clip-1.mp4')));
  const expired = await srv.server.service.sweep(Date.now() + 10 * 24 * 3_600_000);
  assert.ok(expired >= 1);
  assert.is(fs.existsSync(sessionDir), false);
  assert.is((await fetchBytes(r.results.all_analyses[1].clip_url)).res.status, 404);
  ({ id, results } = await analyse(hv.path, 'highlights', '{}')); // the sweep took the first session too
});

test('workout: exercise steps carry clips and thumbnails; the reel joins the steps', async () => {
  const wv = await makeWorkoutVideo(dir, { name: 'w.mp4', duration: 16, sets: [{ start: 2, reps: 5, period: 2 }] });
  const r = await analyse(wv.path, 'workout', '{"segment_duration": 4}');
  const steps = r.results.exercise_steps;
  assert.ok(steps.length >= 1, JSON.stringify(r.results));
  for (const s of r.results.segment_analyses) assert.is(s.clip_url, `/api/v1/video/clip/${r.id}/${s.index}.mp4`);
  assert.is(steps[0].clip_url, `/api/v1/video/clip/${r.id}/step-0.mp4`);
  assert.match(steps[0].thumbnail_url, /\/thumbnail\/.+\.jpg$/);
  const clip = await download(steps[0].clip_url, 'step.mp4');
  const p = await probeMedia(clip);
  assert.ok(Math.abs(p.duration - (steps[0].end_timestamp - steps[0].start_timestamp)) <= 0.1, `step clip ${p.duration}`);
  await decodesCleanly(clip);
  const reel = await probeMedia(await download(r.results.reel_url, 'wreel.mp4'));
  const sum = steps.reduce((n: number, s: any) => n + s.end_timestamp - s.start_timestamp, 0);
  assert.ok(Math.abs(reel.duration - sum) <= 0.1, `reel ${reel.duration}, steps ${sum}`);

  // Cleanup while a cut runs: the answer is the clip or a 404, and nothing is left behind.
  const pending = fetchBytes(r.results.segment_analyses[0].clip_url);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.is((await fetch(`${api()}/cleanup/${r.id}`, { method: 'DELETE', headers: auth })).status, 200);
  const late = await pending;
  assert.ok([200, 404].includes(late.res.status), `status ${late.res.status}`);
  await new Promise((resolve) => setTimeout(resolve, 500)); // let an aborted native cut finish
  assert.is(fs.existsSync(path.join(srv.dataDir, 'sessions', r.id)), false);
});

test('cleanup removes the media; its URLs answer 404', async () => {
  const mediaDir = path.join(srv.dataDir, 'sessions', id, 'media');
  await download(results.highlights[0].clip_url, 'before-cleanup.mp4');
  assert.ok(fs.readdirSync(mediaDir).some((n) => n.endsWith('.mp4')));
  assert.ok(fs.readdirSync(mediaDir).some((n) => n.endsWith('.jpg')));
  const del = await fetch(`${api()}/cleanup/${id}`, { method: 'DELETE', headers: auth });
  assert.is(del.status, 200);
  assert.is(fs.existsSync(mediaDir), false);
  assert.is((await fetchBytes(results.highlights[0].clip_url)).res.status, 404);
  assert.is((await fetchBytes(results.reel_url)).res.status, 404);
});

test.run();
