// Workout: periodic up–down movement with known reps in two sets separated by rest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, type WorkoutResult, type WorkoutSegment } from '../../src/engine/index.js';
import { makeTestVideo, makeWorkoutVideo, type WorkoutVideo } from '../helpers/media.js';
import { collect, tempDir } from './util.js';

const tmp = tempDir();
const engine = createSignalEngine();
let video: WorkoutVideo;

test.before(async () => {
  video = await makeWorkoutVideo(tmp.dir);
});
test.after(async () => {
  await engine.close();
  tmp.remove();
});

for (const segment_duration of [15, 5]) {
  test(`reps and sets are found (segment_duration ${segment_duration})`, async () => {
    const { result, events, error } = await collect(engine.analyze({ type: 'workout', file: video.path, params: { segment_duration } }));
    assert.ok(result, `analysis failed: ${String(error)}`);
    const r = result as WorkoutResult;
    assert.is(r.analysis_type, 'workout_with_timestamps');
    assert.is(r.exercise_steps.length, video.sets.length, JSON.stringify(r.exercise_steps));
    r.exercise_steps.forEach((step, i) => {
      const want = video.sets[i];
      assert.is(step.exercise_name, `Set ${i + 1}`);
      assert.ok(Math.abs(step.rep_count - want.reps) <= 1, `set ${i + 1}: ${step.rep_count} reps, want ${want.reps}`);
      assert.ok(Math.abs(step.start_timestamp - want.start) <= 3, `set ${i + 1} starts at ${step.start_timestamp}, want ${want.start}`);
      assert.ok(Math.abs(step.end_timestamp - want.end) <= 3, `set ${i + 1} ends at ${step.end_timestamp}, want ${want.end}`);
      assert.ok(Math.abs((step.tempo_seconds_per_rep ?? 0) - want.period) <= 0.5, `tempo ${step.tempo_seconds_per_rep}`);
      assert.ok(Math.abs(step.duration - (step.end_timestamp - step.start_timestamp)) < 0.01);
      const reps = step.rep_timestamps ?? [];
      assert.is(reps.length, step.rep_count, 'one rep time per counted rep');
      assert.ok(reps.every((t, j) => t >= step.start_timestamp - 0.01 && t <= step.end_timestamp + 0.01 && (j === 0 || t > reps[j - 1])), `rep times ${reps}`);
      assert.match(step.timestamp_formatted, /^\d\d:\d\d - \d\d:\d\d$/);
    });
    assert.is(r.summary.total_exercises_identified, video.sets.length);
    assert.ok(Math.abs(r.summary.total_reps - video.totalReps) <= 2, `total ${r.summary.total_reps}`);
    assert.is(r.summary.video_duration_formatted, '00:55');

    // Segments: one per window, rep counts add up, live events equal the final list.
    assert.is(r.total_segments_analyzed, Math.ceil(video.duration / segment_duration));
    assert.is(r.segment_analyses.length, r.total_segments_analyzed);
    const sum = r.segment_analyses.reduce((n, s) => n + s.rep_count, 0);
    assert.is(sum, r.summary.total_reps);
    const live = events.filter((e) => e.type === 'segment').map((e) => (e as { segment: WorkoutSegment }).segment);
    assert.equal(live, r.segment_analyses);
    // Rest windows (entirely inside a rest) count nothing.
    for (const s of r.segment_analyses) {
      const insideRest = !video.sets.some((set) => s.start_timestamp < set.end + 1 && s.end_timestamp > set.start);
      if (insideRest) assert.is(s.rep_count, 0, `rest window ${s.timestamp_formatted}`);
    }
    assert.ok(r.segment_analyses.some((s) => s.is_transition));
  });
}

test('another layout: three sets, different tempos, 25 fps 480x360', async () => {
  const v = await makeWorkoutVideo(tmp.dir, {
    name: 'workout3.mp4',
    width: 480,
    height: 360,
    fps: 25,
    duration: 70,
    sets: [
      { start: 3, reps: 12, period: 1.5 },
      { start: 28, reps: 6, period: 3 },
      { start: 54, reps: 5, period: 2 },
    ],
  });
  const r = (await engine.analyze({ type: 'workout', file: v.path, params: { segment_duration: 10 } }).result) as WorkoutResult;
  assert.is(r.exercise_steps.length, 3, JSON.stringify(r.exercise_steps));
  r.exercise_steps.forEach((step, i) => {
    const want = v.sets[i];
    assert.ok(Math.abs(step.rep_count - want.reps) <= 1, `set ${i + 1}: ${step.rep_count} reps, want ${want.reps}`);
    assert.ok(Math.abs(step.start_timestamp - want.start) <= 3 && Math.abs(step.end_timestamp - want.end) <= 3, JSON.stringify(step));
  });
});

test('no periodic movement → no sets', async () => {
  const still = await makeTestVideo(tmp.dir, { seconds: 8, width: 320, height: 240, audio: false });
  const r = (await engine.analyze({ type: 'workout', file: still, params: { segment_duration: 4 } }).result) as WorkoutResult;
  assert.ok(r.summary.total_reps <= 2, `testsrc2 gave ${r.summary.total_reps} reps`);
  assert.is(r.segment_analyses.length, 2);
});

test.run();
