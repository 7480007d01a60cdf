// Native cutting (cutSpans) on real files: which spans are stream-copied and which re-encoded,
// exact durations, clean decoding, real-world codecs, and clear errors for bad input.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cutSpans, EngineError } from '../../src/engine/index.js';
import { ffmpeg, makeTestVideo } from '../helpers/media.js';
import { decodesCleanly, probeMedia } from '../helpers/probe.js';
import { sharedMedia } from '../helpers/server.js';
import { tempDir } from './util.js';

const tmp = tempDir('clips-');
let plain: string; // ultrafast x264: no B-frames, one keyframe a second
let bframes: string; // veryfast x264: B-frames (reordered), keyframes every 250 frames
const out = (name: string) => path.join(tmp.dir, name);

test.before(async () => {
  const src = await makeTestVideo(tmp.dir, { seconds: 6, width: 320, height: 240, audio: true, name: 'src.mp4' });
  plain = out('plain.mp4');
  await ffmpeg(['-i', src, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'copy', plain]);
  bframes = await makeTestVideo(tmp.dir, { seconds: 6, width: 320, height: 240, audio: true, preset: 'veryfast', name: 'bframes.mp4' });
});
test.after(() => tmp.remove());

async function checkClip(file: string, want: number) {
  const p = await probeMedia(file);
  assert.ok(Math.abs(p.duration - want) <= 0.1, `${path.basename(file)}: ${p.duration} s, want ${want} s`);
  await decodesCleanly(file);
  return p;
}

test('a span starting on a keyframe is stream-copied; one starting between keyframes is re-encoded', async () => {
  const copied = await cutSpans(plain, out('a.mp4'), [[2, 4]]);
  assert.is(copied.copied, true);
  await checkClip(out('a.mp4'), 2);
  const cut = await cutSpans(plain, out('b.mp4'), [[2.3, 4.1]]);
  assert.is(cut.copied, false);
  assert.ok(Math.abs(cut.duration - 1.8) <= 0.05, String(cut.duration));
  await checkClip(out('b.mp4'), 1.8);
});

test('reordered (B-frame) video is re-encoded unless the span runs to the end', async () => {
  assert.is((await cutSpans(bframes, out('c.mp4'), [[0, 2]])).copied, false);
  await checkClip(out('c.mp4'), 2);
  assert.is((await cutSpans(bframes, out('d.mp4'), [[0, 6]])).copied, true);
  await checkClip(out('d.mp4'), 6);
});

test('several spans join in order into one file as long as their sum', async () => {
  const r = await cutSpans(bframes, out('reel.mp4'), [[0.5, 1.5], [2, 3.2], [4.4, 5.9]]);
  assert.is(r.copied, false);
  const p = await checkClip(out('reel.mp4'), 1 + 1.2 + 1.5);
  assert.equal(p.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
});

for (const name of ['bbb_trim_vp9_opus.webm', 'handheld_crystal_720x480_vp8_vorbis.webm', 'basketball_gym_426x240.mp4', 'edge_mediarecorder_truncated_noduration.webm']) {
  const file = sharedMedia(name);
  test(`real clip ${name}`, async () => {
    if (!file || !fs.existsSync(file)) return console.log(`  (skipped: ../shared/media/${name} not present)`);
    await cutSpans(file, out(`${name}.mp4`), [[1.2, 3.4]]);
    await checkClip(out(`${name}.mp4`), 2.2);
  });
}

test('bad input is a clear EngineError, never a crash', async () => {
  const expectError = async (p: Promise<unknown>, code: string) => {
    try {
      await p;
      assert.unreachable('should have failed');
    } catch (err) {
      assert.instance(err, EngineError);
      assert.is((err as EngineError).code, code, (err as Error).message);
      assert.not.match((err as Error).message, tmp.dir, 'no paths in messages');
    }
  };
  const garbage = out('garbage.mp4');
  fs.writeFileSync(garbage, Buffer.alloc(4096, 7));
  await expectError(cutSpans(garbage, out('x.mp4'), [[0, 1]]), 'unsupported_media');
  await expectError(cutSpans(plain, out('x.mp4'), [[3, 2]]), 'unsupported_media');
  await expectError(cutSpans(plain, out('x.mp4'), [[10, 12]]), 'decode_error'); // past the end: no frame
  await expectError(cutSpans(plain, path.join(tmp.dir, 'missing', 'x.mp4'), [[0, 1]]), 'internal');
  for (const name of ['edge_fuzz_bad_header_56B.mp4', 'edge_corrupt_stsc_stco.mp4', 'edge_audio_only_two_aac_tracks.mp4']) {
    const file = sharedMedia(name);
    if (file && fs.existsSync(file)) await expectError(cutSpans(file, out('x.mp4'), [[0, 1]]), 'unsupported_media');
  }
  const corrupt = sharedMedia('edge_corrupt_h264_bitstream.mp4');
  if (corrupt && fs.existsSync(corrupt)) {
    // A damaged bitstream: either a clip of what decodes or a decode_error; the process lives on.
    await cutSpans(corrupt, out('corrupt.mp4'), [[0.5, 3]]).catch((err) => assert.instance(err, EngineError));
  }
});

test('an aborted cut rejects with cancelled', async () => {
  const abort = new AbortController();
  const p = cutSpans(bframes, out('cancel.mp4'), [[0.1, 5.9]], { signal: abort.signal });
  abort.abort();
  try {
    await p;
    assert.unreachable('should have been cancelled');
  } catch (err) {
    assert.is((err as EngineError).code, 'cancelled');
  }
});

test.run();
