// Scoring of analysis results against labels. Knows nothing of how the labels were made.
import type { ExerciseStep, HighlightSegment, WorkoutSegment } from '../src/engine/types.js';
import type { Labels, Span } from './generate.js';

/** A highlight counts as right when it overlaps a labelled span by at least this share of itself or 1 s. */
const MIN_OVERLAP_SHARE = 0.3;

const overlap = (a: Span, b: Span) => Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));

export interface HighlightCounts {
  predicted: number;
  correct: number;
  spans: number;
  spansFound: number;
}

export function scoreHighlights(highlights: Pick<HighlightSegment, 'start_timestamp' | 'end_timestamp'>[], labels: Labels): HighlightCounts {
  const spans = labels.highlights;
  const hits = (h: (typeof highlights)[number], s: Span) => {
    const o = overlap({ start: h.start_timestamp, end: h.end_timestamp }, s);
    return o >= Math.min(1, MIN_OVERLAP_SHARE * (h.end_timestamp - h.start_timestamp));
  };
  return {
    predicted: highlights.length,
    correct: highlights.filter((h) => spans.some((s) => hits(h, s))).length,
    spans: spans.length,
    spansFound: spans.filter((s) => highlights.some((h) => hits(h, s))).length,
  };
}

export function addCounts(a: HighlightCounts, b: HighlightCounts): HighlightCounts {
  return { predicted: a.predicted + b.predicted, correct: a.correct + b.correct, spans: a.spans + b.spans, spansFound: a.spansFound + b.spansFound };
}

export const precision = (c: HighlightCounts) => (c.predicted > 0 ? c.correct / c.predicted : 1);
export const recall = (c: HighlightCounts) => (c.spans > 0 ? c.spansFound / c.spans : 1);

/** Absolute rep-count error: total and summed per labelled set (a set matched by overlap). */
export function scoreReps(steps: ExerciseStep[], labels: Labels): { totalError: number; setError: number; setsFound: number; sets: number } {
  const sets = labels.sets ?? [];
  const want = sets.reduce((n, s) => n + s.reps, 0);
  const got = steps.reduce((n, s) => n + s.rep_count, 0);
  let setError = 0;
  let setsFound = 0;
  for (const s of sets) {
    const match = steps.find((st) => overlap({ start: st.start_timestamp, end: st.end_timestamp }, s) > 0.5 * (s.end - s.start));
    if (match) setsFound++;
    setError += Math.abs((match?.rep_count ?? 0) - s.reps);
  }
  return { totalError: Math.abs(got - want), setError, setsFound, sets: sets.length };
}

/**
 * Segments that disagree with the labelled sets: a segment overlapping a set (by periodSlack
 * or more) that isn't counted as part of it or one clear of every set that is, a rep count
 * different from the reps that fall inside the segment (± 1), or a transition flag where no
 * set starts or ends (within periodSlack).
 */
export function segmentDisagreements(segments: WorkoutSegment[], labels: Labels, periodSlack = 1): number {
  const sets = labels.sets ?? [];
  let bad = 0;
  for (const seg of segments) {
    const span = { start: seg.start_timestamp, end: seg.end_timestamp };
    let reps = 0;
    for (const s of sets) {
      const period = (s.end - s.start) / s.reps;
      for (let i = 1; i <= s.reps; i++) {
        const t = s.start + i * period;
        if (t >= span.start && t < span.end) reps++;
      }
    }
    // Within periodSlack of a set's edge either answer is right.
    const inside = sets.some((s) => overlap(span, s) >= periodSlack);
    const outside = !sets.some((s) => overlap(span, { start: s.start - periodSlack, end: s.end + periodSlack }) > 0);
    const edge = sets.some((s) => [s.start, s.end].some((t) => t > span.start - periodSlack && t < span.end + periodSlack));
    const counted = seg.exercise_name !== 'Rest' && seg.exercise_name !== '';
    const wrongSet = (inside && !counted) || (outside && counted);
    if (wrongSet || Math.abs(seg.rep_count - reps) > 1 || (seg.is_transition && !edge)) bad++;
  }
  return bad;
}
