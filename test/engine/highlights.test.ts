// Highlights on a generated video with known bursts (fast motion + hard cuts + loud audio)
// in an otherwise calm, quiet scene.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, type HighlightSegment, type HighlightsResult } from '../../src/engine/index.js';
import { makeHighlightsVideo, type HighlightsVideo } from '../helpers/media.js';
import { collect, tempDir } from './util.js';

const tmp = tempDir();
const engine = createSignalEngine();
let video: HighlightsVideo;

test.before(async () => {
  video = await makeHighlightsVideo(tmp.dir);
});
test.after(async () => {
  await engine.close();
  tmp.remove();
});

const overlapsBurst = (s: HighlightSegment) => video.bursts.some((b) => s.start_timestamp < b.end && s.end_timestamp > b.start);

test('bursts are the top highlights and outscore every calm segment', async () => {
  const { result, events, error, completed } = await collect(
    engine.analyze({ type: 'highlights', file: video.path, params: { min_significance: 6, max_highlights: 10 } }),
  );
  assert.ok(result, `analysis failed: ${String(error)}`);
  assert.ok(completed, 'events complete');
  const r = result as HighlightsResult;
  assert.is(r.analysis_type, 'highlights');
  assert.equal(r.engine, { name: 'signal', model: null });
  assert.is(r.settings.segment_duration, 3);
  assert.is(r.total_segments_analyzed, 10);
  assert.is(r.all_analyses.length, 10);
  assert.ok(Math.abs(r.video.duration - video.duration) < 0.2);
  assert.is(r.video.width, 480);
  assert.is(r.video.has_audio, true);

  const burstSegs = r.all_analyses.filter(overlapsBurst);
  const calmSegs = r.all_analyses.filter((s) => !overlapsBurst(s));
  assert.is(burstSegs.length, video.bursts.length);
  const calmMax = Math.max(...calmSegs.map((s) => s.significance_score));
  for (const s of burstSegs) {
    assert.ok(s.significance_score > calmMax, `burst ${s.timestamp_formatted} scored ${s.significance_score}, calm max ${calmMax}`);
    assert.ok(s.significance_score >= 8, `burst ${s.timestamp_formatted} scored only ${s.significance_score}`);
    assert.match(s.description, /fast motion/);
    assert.match(s.description, /hard cut/);
    assert.match(s.description, /loud/);
    assert.ok((s.signals?.cuts ?? 0) >= 2, `cuts detected: ${s.signals?.cuts}`);
  }
  for (const s of calmSegs) assert.not.match(s.description, /hard cut/, s.description);
  // Top highlights are the bursts, best first.
  assert.is(r.highlights_found, r.highlights.length);
  assert.ok(r.highlights.length >= video.bursts.length);
  for (let i = 0; i < video.bursts.length; i++) assert.ok(overlapsBurst(r.highlights[i]), `highlight ${i} is a burst`);
  for (let i = 1; i < r.highlights.length; i++) assert.ok(r.highlights[i - 1].significance_score >= r.highlights[i].significance_score);
  for (const h of r.highlights) assert.ok(h.significance_score >= 6);
  // One segment says where the loudest audio is, and it is inside a burst.
  const loudest = r.all_analyses.filter((s) => /loudest audio of the video at (\d\d:\d\d)/.test(s.description));
  assert.is(loudest.length, 1);
  assert.ok(overlapsBurst(loudest[0]));

  // Segment shapes.
  r.all_analyses.forEach((s, i) => {
    assert.is(s.index, i);
    assert.ok(Number.isInteger(s.significance_score) && s.significance_score >= 1 && s.significance_score <= 10);
    assert.match(s.timestamp_formatted, /^\d\d:\d\d - \d\d:\d\d$/);
    assert.is(s.analysis_success, true);
    assert.type(s.description, 'string');
  });

  // Live events: every segment event equals the final entry; progress never decreases.
  const live = events.filter((e) => e.type === 'segment').map((e) => (e as { segment: HighlightSegment }).segment);
  assert.equal(live, r.all_analyses);
  const progress = events.filter((e) => e.type === 'progress') as Extract<(typeof events)[number], { type: 'progress' }>[];
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress >= progress[i - 1].progress, 'progress decreased');
  assert.is(progress[progress.length - 1].progress, 1);
  const steps = new Set(progress.map((p) => p.currentStep));
  for (const step of ['Probing video', 'Measuring baseline', 'Analyzing segments', 'Finalizing']) assert.ok(steps.has(step), `step ${step}`);
  const lastSegments = progress[progress.length - 1].segments;
  assert.equal(lastSegments, { completed: 10, total: 10 });
  // A segment event comes before the progress that counts it.
  const firstSeg = events.findIndex((e) => e.type === 'segment');
  const firstCounted = events.findIndex((e) => e.type === 'progress' && e.segments.completed >= 1);
  assert.ok(firstSeg >= 0 && firstSeg < firstCounted);
});

test('min_significance, max_highlights and segment_duration are honoured', async () => {
  const r = (await engine.analyze({
    type: 'highlights',
    file: video.path,
    params: { min_significance: 1, max_highlights: 3, segment_duration: 5 },
  }).result) as HighlightsResult;
  assert.is(r.settings.segment_duration, 5);
  assert.is(r.all_analyses.length, 6);
  assert.is(r.highlights.length, 3);
  assert.is(r.settings.max_highlights, 3);
  const sorted = [...r.all_analyses].sort((a, b) => b.significance_score - a.significance_score);
  assert.is(r.highlights[0].significance_score, sorted[0].significance_score);
  const strict = (await engine.analyze({ type: 'highlights', file: video.path, params: { min_significance: 10, max_highlights: 10 } })
    .result) as HighlightsResult;
  for (const h of strict.highlights) assert.is(h.significance_score, 10);
});

test('results are deterministic', async () => {
  const params = { min_significance: 6, max_highlights: 10 };
  const a = (await engine.analyze({ type: 'highlights', file: video.path, params }).result) as HighlightsResult;
  const b = (await engine.analyze({ type: 'highlights', file: video.path, params }).result) as HighlightsResult;
  assert.equal(a.all_analyses, b.all_analyses);
});

test.run();
