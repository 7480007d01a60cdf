// Signals that mean what they say, on the eval's generated videos (labels from the generator's
// parameters): camera moves are named and are not highlights, bursts are; moments (cuts,
// shots, audio peaks); warnings; workout windows that agree with the sets.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateCases, type EvalCase } from '../../eval/generate.js';
import { createSignalEngine, type HighlightsResult, type WorkoutResult } from '../../src/engine/index.js';
import { ffmpeg, makeHighlightsVideo, makeTestVideo, makeWorkoutVideo, sharedMediaDir } from '../helpers/media.js';
import { tempDir } from './util.js';

const tmp = tempDir();
const engine = createSignalEngine();
let cases: EvalCase[] = [];
const params = { min_significance: 6, max_highlights: 10 };
const overlaps = (s: { start_timestamp: number; end_timestamp: number }, span: { start: number; end: number }) =>
  s.start_timestamp < span.end && s.end_timestamp > span.start;

test.before(async () => {
  cases = await generateCases(true);
});
test.after(async () => {
  await engine.close();
  tmp.remove();
});

// Each file is analysed once (the tests look at the same results from several sides).
const results = new Map<string, Promise<HighlightsResult>>();
const highlights = (file: string): Promise<HighlightsResult> => {
  if (!results.has(file)) results.set(file, engine.analyze({ type: 'highlights', file, params }).result as Promise<HighlightsResult>);
  return results.get(file)!;
};

test('generated cases: camera moves, fades, static screens and talking heads give no highlights; bursts do', async () => {
  const hl = cases.filter((c) => c.type === 'highlights');
  assert.ok(hl.length >= 8, `${hl.length} cases`);
  for (const c of hl) {
    const r = await highlights(c.path);
    if (c.labels.highlights.length === 0) {
      assert.is(r.highlights.length, 0, `${c.name}: ${r.highlights.map((h) => `${h.timestamp_formatted} ${h.significance_score} ${h.description}`).join('; ')}`);
    } else {
      for (const span of c.labels.highlights) assert.ok(r.highlights.some((h) => overlaps(h, span)), `${c.name}: burst at ${span.start} s missed`);
      for (const h of r.highlights) assert.ok(c.labels.highlights.some((span) => overlaps(h, span)), `${c.name}: false highlight ${h.timestamp_formatted}`);
    }
    // The ranking lists every segment once, best first, whatever the scores.
    assert.equal([...r.ranking!].sort((a, b) => a - b), r.all_analyses.map((s) => s.index));
    const scores = r.ranking!.map((i) => r.all_analyses[i].significance_score);
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1] >= scores[i], `${c.name}: ranking out of order`);
  }
});

test('camera motion is measured and named: pan left, zoom in, handheld, fade', async () => {
  const want: Record<string, RegExp> = { pan: /camera pans left/, zoom: /camera zooms in/, handheld: /handheld/, fade: /fade/ };
  for (const c of cases.filter((x) => x.labels.camera)) {
    const r = await highlights(c.path);
    const described = r.all_analyses.filter((s) => want[c.labels.camera!].test(s.camera_motion?.description ?? ''));
    assert.ok(described.length >= r.all_analyses.length / 2, `${c.name}: ${r.all_analyses.map((s) => s.camera_motion?.description).join(' | ')}`);
    for (const s of described) assert.ok(s.description.startsWith(s.camera_motion!.description), s.description);
    if (c.labels.camera === 'pan') for (const s of described) assert.ok(s.camera_motion!.pan < -0.02, `pan ${s.camera_motion!.pan}`);
    if (c.labels.camera === 'zoom') for (const s of described) assert.ok(s.camera_motion!.zoom > 0.01, `zoom ${s.camera_motion!.zoom}`);
    if (c.labels.camera !== 'fade') for (const s of r.all_analyses) assert.ok((s.subject_motion ?? 99) < 4, `${c.name}: subject ${s.subject_motion}`);
  }
  // A still scene with a burst of moving objects: the camera is steady, the subject is not.
  const burst = cases.find((c) => c.name.startsWith('object burst'))!;
  const r = await highlights(burst.path);
  const inBurst = r.all_analyses.filter((s) => overlaps(s, burst.labels.highlights[0]));
  assert.ok(inBurst.some((s) => (s.subject_motion ?? 0) > 5), JSON.stringify(inBurst.map((s) => s.subject_motion)));
  for (const s of r.all_analyses) assert.is(s.camera_motion?.description, 'steady camera');
});

test('moments: cut times, shots and audio peaks from the known bursts', async () => {
  const v = await makeHighlightsVideo(tmp.dir);
  const r = await highlights(v.path);
  const cuts = r.all_analyses.flatMap((s) => s.cut_timestamps ?? []);
  assert.is(cuts.length, v.cuts.length, JSON.stringify(cuts));
  cuts.forEach((t, i) => assert.ok(Math.abs(t - v.cuts[i]) <= 0.08, `cut ${t} vs ${v.cuts[i]}`));
  for (const s of r.all_analyses) for (const t of s.cut_timestamps ?? []) assert.ok(t >= s.start_timestamp && t < s.end_timestamp);
  assert.is(r.shots!.length, v.cuts.length + 1);
  assert.is(r.shots![0].start_timestamp, 0);
  assert.ok(Math.abs(r.shots!.at(-1)!.end_timestamp - v.duration) < 0.1);
  r.shots!.slice(1).forEach((shot, i) => assert.is(shot.start_timestamp, cuts[i]));
  for (const s of r.all_analyses) {
    assert.type(s.audio_peak_timestamp, 'number');
    assert.ok(s.audio_peak_timestamp! >= s.start_timestamp && s.audio_peak_timestamp! <= s.end_timestamp);
  }
  for (const b of v.bursts) {
    const seg = r.all_analyses.find((s) => overlaps(s, b))!;
    assert.ok(seg.audio_peak_timestamp! >= b.start && seg.audio_peak_timestamp! <= b.end, `peak ${seg.audio_peak_timestamp}`);
  }
  assert.equal(r.warnings, []);
  assert.ok(Math.abs(r.video.analysed_duration! - v.duration) < 0.1);
});

test('warnings: truncated, no_audio, variable_frame_rate', async () => {
  // Half of a 12 s file whose index (moov first) still claims 12 s.
  const full = await makeTestVideo(tmp.dir, { seconds: 12, audio: false, name: 'full.mp4' });
  await ffmpeg(['-i', full, '-c', 'copy', '-movflags', '+faststart', join(tmp.dir, 'fast.mp4')]);
  const { readFileSync, writeFileSync } = await import('node:fs');
  const data = readFileSync(join(tmp.dir, 'fast.mp4'));
  const cut = join(tmp.dir, 'cut.mp4');
  writeFileSync(cut, data.subarray(0, data.length >> 1));
  const r = await highlights(cut);
  const codes = r.warnings!.map((w) => w.code);
  assert.ok(codes.includes('truncated') && codes.includes('no_audio'), JSON.stringify(r.warnings));
  assert.ok(r.video.duration > 11.5 && r.video.analysed_duration! < 9, `${r.video.duration} / ${r.video.analysed_duration}`);
  assert.ok(!r.warnings!.find((w) => w.code === 'truncated')!.message.includes(tmp.dir));

  // Frames dropped at random and a 0.6 s hole: a variable frame rate that matters.
  const vfr = join(tmp.dir, 'vfr.mkv');
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=25:d=8', '-vf', "select='gt(random(0),0.4)*not(between(t,3,3.6))'",
    '-fps_mode', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', vfr,
  ]);
  const v = await highlights(vfr);
  assert.ok(v.warnings!.some((w) => w.code === 'variable_frame_rate'), JSON.stringify(v.warnings));
  // A constant-rate file gets none of these.
  const plain = await makeTestVideo(tmp.dir, { seconds: 4, audio: true, name: 'plain.mp4' });
  assert.equal((await highlights(plain)).warnings, []);
});

test('warnings on the shared media: the cut-off MediaRecorder file and the damaged bitstream', async () => {
  const dir = sharedMediaDir();
  if (!dir) return;
  const rec = join(dir, 'edge_mediarecorder_truncated_noduration.webm');
  if (existsSync(rec)) {
    const r = await highlights(rec);
    assert.ok(r.warnings!.some((w) => w.code === 'truncated'), JSON.stringify(r.warnings));
    assert.is(r.highlights.length, 0, 'a still bag in room tone has no highlights');
  }
  const bad = join(dir, 'edge_corrupt_h264_bitstream.mp4');
  if (existsSync(bad)) {
    const r = await highlights(bad);
    const w = r.warnings!.find((x) => x.code === 'decode_errors');
    assert.ok(w && w.count! > 0 && w.message.includes(String(w.count)), JSON.stringify(r.warnings));
  }
});

test('workout: windows agree with the sets (a set starting at 0.13 s, 15 s and 5 s windows)', async () => {
  const v = await makeWorkoutVideo(tmp.dir, { name: 'early.mp4', duration: 45, sets: [{ start: 0.13, reps: 8, period: 2 }, { start: 24, reps: 8, period: 1.5 }] });
  for (const segment_duration of [15, 5]) {
    const r = (await engine.analyze({ type: 'workout', file: v.path, params: { segment_duration } }).result) as WorkoutResult;
    assert.is(r.exercise_steps.length, 2, JSON.stringify(r.exercise_steps));
    assert.is(r.segment_analyses.reduce((n, s) => n + s.rep_count, 0), r.summary.total_reps);
    for (const seg of r.segment_analyses) {
      const steps = r.exercise_steps.filter((st) => st.start_timestamp < seg.end_timestamp && st.end_timestamp > seg.start_timestamp);
      const edge = r.exercise_steps.some((st) => [st.start_timestamp, st.end_timestamp].some((t) => t >= seg.start_timestamp && t <= seg.end_timestamp));
      const what = `${segment_duration} s window ${seg.timestamp_formatted}: ${seg.description}`;
      assert.is(seg.is_transition, edge, what);
      if (steps.length) {
        assert.is(seg.movement_phase, 'Execution', what);
        assert.ok(steps.some((st) => st.exercise_name === seg.exercise_name), what);
      } else {
        assert.is(seg.exercise_name, 'Rest', what);
        assert.is(seg.rep_count, 0, what);
      }
      // The reps that happen inside the window (one per period of each labelled set).
      let inside = 0;
      for (const set of v.sets) for (let i = 0; i < set.reps; i++) {
        const t = set.start + (i + 0.5) * set.period; // the far end of each rep
        if (t >= seg.start_timestamp && t < seg.end_timestamp) inside++;
      }
      assert.ok(Math.abs(seg.rep_count - inside) <= 1, `${what}: ${seg.rep_count} reps, ${inside} happen there`);
    }
    // The first window holds the first reps of a set that starts at 0.13 s.
    assert.ok(r.segment_analyses[0].rep_count >= 1 && r.segment_analyses[0].movement_phase === 'Execution');
  }
});

test.run();
