// probe() and extractFrames() against generated clips and ffmpeg's own decoding.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EngineError, createSignalEngine, extractFrames, probe } from '../../src/engine/index.js';
import { makeAudioOnly, makeTestVideo, makeWorkoutVideo, type WorkoutVideo } from '../helpers/media.js';
import { tempDir } from './util.js';

const tmp = tempDir();
let clip: string;
let rotated: string;
let workout: WorkoutVideo;

test.before(async () => {
  clip = await makeTestVideo(tmp.dir, { seconds: 4, width: 320, height: 240, fps: 25, audio: true });
  rotated = await makeTestVideo(tmp.dir, { seconds: 2, width: 320, height: 240, audio: false, rotation: 90 });
  workout = await makeWorkoutVideo(tmp.dir);
});
test.after(() => tmp.remove());

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp) {
  try {
    await p;
  } catch (err) {
    assert.instance(err, EngineError);
    assert.is((err as EngineError).code, code, (err as Error).message);
    if (pattern) assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected EngineError ${code}`);
}

test('probe reports duration, size, fps, codecs, audio', async () => {
  const info = await probe(clip);
  assert.ok(Math.abs(info.duration - 4) < 0.1, `duration ${info.duration}`);
  assert.is(info.width, 320);
  assert.is(info.height, 240);
  assert.is(info.fps, 25);
  assert.is(info.has_audio, true);
  assert.is(info.video_codec, 'h264');
  assert.is(info.audio_codec, 'aac');
  assert.is(info.rotation, 0);
  const engine = createSignalEngine();
  assert.equal(await engine.probe(clip), info);
  assert.equal(engine.health(), { ready: true, state: 'ready' });
  await engine.close();
});

test('probe applies the display rotation', async () => {
  const info = await probe(rotated);
  assert.ok(info.rotation === 90 || info.rotation === 270, `rotation ${info.rotation}`);
  assert.is(info.width, 240);
  assert.is(info.height, 320);
});

test('probe rejects what is not a decodable video with unsupported_media', async () => {
  await rejectsWith(probe(await makeAudioOnly(tmp.dir)), 'unsupported_media', /audio only/);
  await rejectsWith(probe(join(tmp.dir, 'missing.mp4')), 'unsupported_media', /not found/);
  const text = join(tmp.dir, 'notes.mp4');
  writeFileSync(text, 'this is not a video\n'.repeat(100));
  await rejectsWith(probe(text), 'unsupported_media');
  const empty = join(tmp.dir, 'empty.mp4');
  writeFileSync(empty, '');
  await rejectsWith(probe(empty), 'unsupported_media');
});

test('extractFrames: sizes, order, timestamps, end of video', async () => {
  const frames = await extractFrames(clip, [2, 0, 1.5, 3.96, 100], 128);
  assert.is(frames.length, 5);
  for (const f of frames) {
    assert.is(f.width, 128);
    assert.is(f.height, 96);
    assert.is(f.data.length, 128 * 96 * 3);
    assert.ok(Buffer.isBuffer(f.data));
  }
  assert.ok(Math.abs(frames[0].timestamp - 2) < 0.05, `t=${frames[0].timestamp}`);
  assert.ok(Math.abs(frames[1].timestamp - 0) < 0.05);
  assert.ok(Math.abs(frames[2].timestamp - 1.5) < 0.05);
  assert.ok(frames[4].timestamp > 3.8 && frames[4].timestamp < 4, `past the end → last frame (${frames[4].timestamp})`);
  // Different times give different pictures (testsrc2 animates).
  assert.not.equal(frames[0].data, frames[1].data);
  // maxSide bigger than the video keeps its size.
  const [full] = await extractFrames(clip, [1], 1000);
  assert.equal([full.width, full.height], [320, 240]);
  assert.equal(await extractFrames(clip, [], 64), []);
});

test('extractFrames matches ffmpeg, including rotation', async () => {
  const run = promisify(execFile);
  for (const [file, t] of [[clip, 1.0], [rotated, 1.0]] as const) {
    const [f] = await extractFrames(file, [t], 64);
    const { stdout } = await run(
      'ffmpeg',
      ['-v', 'error', '-ss', String(t), '-i', file, '-frames:v', '1', '-vf', `scale=${f.width}:${f.height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      { encoding: 'buffer', maxBuffer: 1 << 24 },
    );
    assert.is(stdout.length, f.data.length, 'same size as ffmpeg (rotation applied)');
    let diff = 0;
    for (let i = 0; i < stdout.length; i++) diff += Math.abs(stdout[i] - f.data[i]);
    assert.ok(diff / stdout.length < 20, `mean abs difference to ffmpeg ${diff / stdout.length}`);
  }
});

test('extractFrames shows the moving box where the generator put it', async () => {
  // The box's top edge: 30 + 60*(1 - cos(2π(t-2)/2)) during the first set.
  const times = [1, 3, 4, 5];
  const frames = await extractFrames(workout.path, times, 320);
  for (const f of frames) assert.equal([f.width, f.height], [320, 240]);
  frames.forEach((f, i) => {
    let top = -1;
    for (let y = 0; y < f.height && top < 0; y++) {
      for (let x = 0; x < f.width; x++) {
        if (f.data[(y * f.width + x) * 3] > 190) {
          top = y;
          break;
        }
      }
    }
    const t = times[i];
    const want = t < 2 ? 30 : 30 + 60 * (1 - Math.cos((2 * Math.PI * (t - 2)) / 2));
    assert.ok(Math.abs(top - want) <= 6, `t=${t}: box top at ${top}, want ${want}`);
  });
});

test('extractFrames rejects bad arguments and bad files', async () => {
  try {
    await extractFrames(clip, [NaN]);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TypeError);
  }
  await rejectsWith(extractFrames(join(tmp.dir, 'nope.mp4'), [1]), 'unsupported_media');
});

test.run();
