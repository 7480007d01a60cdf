// Today's engine (65e47cd) as the eval's baseline: the same native measurements, scored by the
// frozen copies of the scorer and the rep counter, assembled the way SignalJob did then.
import * as native from '../../src/engine/native.js';
import { defaultSegmentDuration } from '../../src/engine/signal/segmentation.js';
import type { ExerciseStep, HighlightSegment, WorkoutSegment } from '../../src/engine/types.js';
import { buildHighlightsBaseline, pickHighlights, scoreSegment, type HighlightsBaseline } from './highlights.js';
import { WorkoutTracker } from './workout.js';

export interface BaselineHighlights {
  highlights: HighlightSegment[];
  all_analyses: HighlightSegment[];
}

export interface BaselineWorkout {
  segment_analyses: WorkoutSegment[];
  exercise_steps: ExerciseStep[];
  total_reps: number;
}

function events(file: string, options: native.NativeJobOptions, onEvent: (ev: native.NativeEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let error: Error | null = null;
    native.startJob(file, options, (ev) => {
      try {
        if (ev.type === 'error') error = new Error(ev.message);
        else if (ev.type === 'closed') return error ? reject(error) : resolve();
        else onEvent(ev);
      } catch (err) {
        error = err as Error;
      }
    });
  });
}

export async function baselineHighlights(file: string, minSignificance = 6, maxHighlights = 10): Promise<BaselineHighlights> {
  const info = await native.probe(file);
  const all: HighlightSegment[] = [];
  let base: HighlightsBaseline | null = null;
  await events(file, { segmentDuration: defaultSegmentDuration(info.duration), sampleFps: 4, measureAudio: info.has_audio, threads: 2 }, (ev) => {
    if (ev.type === 'baseline') base = buildHighlightsBaseline(ev);
    else if (ev.type === 'segment') all.push(scoreSegment(base!, ev));
  });
  return { highlights: pickHighlights(all, minSignificance, maxHighlights), all_analyses: all };
}

export async function baselineWorkout(file: string, segmentDuration: number): Promise<BaselineWorkout> {
  const segs: WorkoutSegment[] = [];
  let tracker: WorkoutTracker | null = null;
  let total = 0;
  await events(file, { segmentDuration, sampleFps: 10, measureAudio: false, series: true, threads: 2 }, (ev) => {
    if (ev.type === 'baseline') {
      tracker = new WorkoutTracker(ev.duration);
      total = ev.segments.length;
    } else if (ev.type === 'segment') {
      if (ev.series) tracker!.addSeries(ev.series);
      segs.push(tracker!.closeWindow(ev.index, ev.start, ev.end, ev.samples, ev.index === total - 1));
    }
  });
  const { steps, totalReps } = tracker!.finish();
  return { segment_analyses: segs, exercise_steps: steps, total_reps: totalReps };
}
