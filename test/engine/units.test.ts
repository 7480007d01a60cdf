// Pure helpers: time formatting, params validation, default segmentation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatClock, formatRange } from '../../src/engine/format.js';
import { ParamsError, parseAnalysisType, parseHighlightsParams, parseParams, parseWorkoutParams } from '../../src/engine/params.js';
import { defaultSegmentDuration } from '../../src/engine/signal/segmentation.js';

test('formatClock / formatRange', () => {
  assert.is(formatClock(0), '00:00');
  assert.is(formatClock(13.9), '00:13');
  assert.is(formatClock(62), '01:02');
  assert.is(formatClock(4503), '75:03');
  assert.is(formatClock(-3), '00:00');
  assert.is(formatClock(NaN), '00:00');
  assert.is(formatRange(9, 12), '00:09 - 00:12');
});

test('highlights params: defaults and valid values', () => {
  assert.equal(parseHighlightsParams(undefined), { min_significance: 6, max_highlights: 10 });
  assert.equal(parseHighlightsParams('{"min_significance": 4, "segment_duration": 2.5}'), {
    min_significance: 4,
    max_highlights: 10,
    segment_duration: 2.5,
  });
  // Form fields arrive as strings.
  assert.equal(parseParams('highlights', { min_significance: '3', max_highlights: '2' }), { min_significance: 3, max_highlights: 2 });
});

function throwsParams(fn: () => unknown, key: string | null, pattern: RegExp) {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ParamsError);
    assert.is((err as ParamsError).key, key);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable('expected a ParamsError');
}

test('highlights params: errors name the key', () => {
  throwsParams(() => parseHighlightsParams({ min_significance: 11 }), 'min_significance', /min_significance/);
  throwsParams(() => parseHighlightsParams({ min_significance: 0 }), 'min_significance', /between 1 and 10/);
  throwsParams(() => parseHighlightsParams({ min_significance: 2.5 }), 'min_significance', /integer/);
  throwsParams(() => parseHighlightsParams({ max_highlights: 101 }), 'max_highlights', /max_highlights/);
  throwsParams(() => parseHighlightsParams({ max_highlights: 'many' }), 'max_highlights', /number/);
  throwsParams(() => parseHighlightsParams({ segment_duration: 0.2 }), 'segment_duration', /segment_duration/);
  throwsParams(() => parseHighlightsParams({ segment_duration: 601 }), 'segment_duration', /segment_duration/);
  throwsParams(() => parseHighlightsParams({ min_sig: 3 }), 'min_sig', /unknown parameter "min_sig"/);
  throwsParams(() => parseHighlightsParams({ user_prompt: 'x' }), 'user_prompt', /user_prompt/);
  throwsParams(() => parseHighlightsParams('{min_significance:'), 'params', /params/);
  throwsParams(() => parseHighlightsParams('[1,2]'), 'params', /params/);
});

test('workout params', () => {
  assert.equal(parseWorkoutParams(undefined), { segment_duration: 15 });
  assert.equal(parseWorkoutParams({ segment_duration: 5, user_prompt: 'count', system_prompt: 'you are' }), {
    segment_duration: 5,
    user_prompt: 'count',
    system_prompt: 'you are',
  });
  throwsParams(() => parseWorkoutParams({ segment_duration: 0 }), 'segment_duration', /segment_duration/);
  throwsParams(() => parseWorkoutParams({ user_prompt: 42 }), 'user_prompt', /string/);
  throwsParams(() => parseWorkoutParams({ min_significance: 3 }), 'min_significance', /unknown/);
});

test('analysis type', () => {
  assert.is(parseAnalysisType(undefined), 'highlights');
  assert.is(parseAnalysisType('workout'), 'workout');
  throwsParams(() => parseAnalysisType('yoga'), 'analysis_type', /analysis_type/);
});

test('default segment duration scales with length', () => {
  assert.is(defaultSegmentDuration(30), 3);
  assert.is(Math.round(30.02 / defaultSegmentDuration(30.02)), 10);
  const twoHours = 2 * 3600;
  const n = twoHours / defaultSegmentDuration(twoHours);
  assert.ok(n >= 50 && n <= 400, `2 h video → ${n} segments`);
  assert.ok(defaultSegmentDuration(5) >= 2);
  assert.is(defaultSegmentDuration(0), 3);
  for (const d of [1, 10, 60, 600, 3600, 36000]) {
    const s = defaultSegmentDuration(d);
    assert.ok(s >= 2 && s <= 600, `${d}s → ${s}`);
  }
});

test.run();
