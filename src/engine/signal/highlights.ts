// Highlights scoring: every segment is scored from its own measurements plus the baseline
// measured over the whole video before the first segment is analysed, so a live segment
// event is final the moment it's emitted.
import { formatClock, formatRange, round } from '../format.js';
import type { NativeBaselineEvent, NativeBaselineSegment, NativeSegmentEvent } from '../native.js';
import type { HighlightSegment } from '../types.js';
import { cameraMotion, cameraMoves, subjectWords, type AnalysisFrame } from './motion.js';

export interface HighlightsBaseline {
  segments: NativeBaselineSegment[];
  /** Median activity (kB/s of predicted frames) over all segments. */
  activityMedian: number;
  audioMeasured: boolean;
  /** Whole track essentially silent: audio can't make anything significant. */
  audioSilent: boolean;
  audioMedianRms: number;
  medianWindowDb: number;
  /** Median over segments of each segment's loudest 50 ms window (dBFS). */
  loudestMedian: number;
  /** Index of the segment holding the loudest moment, -1 when it doesn't stand out. */
  loudestSegment: number;
}

function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return 0;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

export function buildHighlightsBaseline(ev: NativeBaselineEvent): HighlightsBaseline {
  const segs = ev.segments;
  const audioMeasured = ev.audio.measured && segs.some((s) => s.audioRms !== undefined);
  const audioMedianRms = audioMeasured ? median(segs.map((s) => s.audioRms ?? -100)) : -100;
  const audioSilent = !audioMeasured || ev.audio.maxWindowDb < -55;
  let loudestSegment = -1;
  if (audioMeasured && !audioSilent) {
    let best = -Infinity;
    segs.forEach((s, i) => {
      if ((s.audioLoudest ?? -100) > best) {
        best = s.audioLoudest ?? -100;
        loudestSegment = i;
      }
    });
    // Only call it "the loudest of the video" when it stands out from the typical level.
    if (best < ev.audio.medianWindowDb + 6) loudestSegment = -1;
  }
  return {
    segments: segs,
    activityMedian: median(segs.map((s) => s.activity)),
    audioMeasured,
    audioSilent,
    audioMedianRms,
    medianWindowDb: ev.audio.medianWindowDb,
    loudestMedian: audioMeasured ? median(segs.map((s) => s.audioLoudest ?? -100)) : -100,
    loudestSegment,
  };
}

// Audio only counts when it is loud in absolute terms too: room tone and hum vary by several dB
// without anything happening.
const LOUD_MOMENT_DB = -35; // loudest 50 ms window of the segment, dBFS
const LOUD_SEGMENT_DB = -40; // RMS of the segment, dBFS

export function scoreSegment(base: HighlightsBaseline, seg: NativeSegmentEvent, frame: AnalysisFrame): HighlightSegment {
  const b = base.segments[seg.index];
  const length = Math.max(0.1, seg.end - seg.start);
  const out: HighlightSegment = {
    index: seg.index,
    start_timestamp: round(seg.start),
    end_timestamp: round(seg.end),
    timestamp_formatted: formatRange(seg.start, seg.end),
    significance_score: 1,
    description: '',
    analysis_success: seg.samples > 0,
    score_source: 'signal',
    audio_peak_timestamp: audioPeak(base, b, seg),
    cut_timestamps: seg.cutTimes.map((t) => round(t)),
  };
  if (seg.samples === 0) {
    out.description = 'this part of the video could not be decoded';
    out.signals = { samples: 0 };
    out.camera_motion = null;
    out.subject_motion = 0;
    return out;
  }
  const camera = cameraMotion(seg, frame);
  const cameraMoving = cameraMoves(camera);
  out.camera_motion = camera;
  out.subject_motion = round(seg.subject, 2);

  // Subject motion: what changes once the camera's own motion and brightness changes are
  // compensated, in absolute gray levels, so the same number means the same across videos.
  // A short burst counts through the segment's strongest moment.
  const subjectLevel = Math.max(seg.subject, 0.5 * seg.subjectMax);
  const motion = clamp01((subjectLevel - 2) / 6);
  const activityRatio = b && base.activityMedian > 0 ? b.activity / base.activityMedian : 1;

  // Hard cuts, as a density (a couple of cuts in 3 s is a lot; in a minute it isn't).
  const cuts = clamp01(1 - Math.exp((-seg.cuts * 3) / length));

  // Audio: loudness against the track's median and short loud moments, both only when loud.
  let audio = 0;
  let audioRel = 0;
  let transient = 0;
  const useAudio = base.audioMeasured && !base.audioSilent && b?.audioRms !== undefined;
  if (useAudio) {
    audioRel = (b.audioRms ?? -100) - base.audioMedianRms;
    transient = (b.audioLoudest ?? -100) - base.loudestMedian;
    const loudSegment = (b.audioRms ?? -100) >= LOUD_SEGMENT_DB ? clamp01((audioRel - 3) / 12) : 0;
    const loudMoment = (b.audioLoudest ?? -100) >= LOUD_MOMENT_DB ? 0.8 * clamp01((transient - 6) / 12) : 0;
    audio = Math.max(loudSegment, loudMoment);
  }

  const parts = useAudio ? [motion, cuts, audio] : [motion, cuts];
  const weights = useAudio ? [0.5, 0.2, 0.3] : [0.7, 0.3];
  const weighted = parts.reduce((sum, p, i) => sum + p * weights[i], 0);
  // One strong signal already matters; several together matter most.
  const raw = 0.5 * Math.max(...parts) + 0.5 * weighted;
  out.significance_score = Math.min(10, Math.max(1, Math.round(1 + 9 * raw)));

  const words: string[] = [];
  if (camera && camera.description !== 'steady camera') words.push(camera.description);
  words.push(subjectWords(subjectLevel, cameraMoving || !!camera?.fade));
  if (seg.cuts > 0) words.push(seg.cuts === 1 ? '1 hard cut' : `${seg.cuts} hard cuts`);
  if (base.audioMeasured && b?.audioRms !== undefined) {
    const at = formatClock(b.audioLoudestAt ?? seg.start);
    if (base.audioSilent || (b.audioRms ?? -100) < -60) words.push('silent');
    else if (base.loudestSegment === seg.index && audio > 0) words.push(`loudest audio of the video at ${at}`);
    else if (audioRel >= 6 && audio > 0) words.push(`loud audio (+${Math.round(audioRel)} dB) peaking at ${at}`);
    else if (transient >= 6 && audio > 0) words.push(`audio peak at ${at}`);
    else if ((b.audioRms ?? -100) < LOUD_SEGMENT_DB - 10) words.push('quiet audio');
    else if (audioRel <= -10) words.push('quieter than usual');
    else words.push('usual audio level');
  } else if (!base.audioMeasured) {
    words.push('no audio');
  }
  out.description = words.join(', ');
  out.signals = {
    samples: seg.samples,
    motion: round(seg.motion),
    motion_max: round(seg.motionMax),
    subject_motion: round(seg.subject),
    subject_motion_max: round(seg.subjectMax),
    activity_ratio: round(activityRatio),
    cuts: seg.cuts,
    brightness: round(seg.brightness, 1),
    ...(b?.audioRms !== undefined
      ? { audio_rms_db: round(b.audioRms, 1), audio_peak_db: round(b.audioPeak ?? -100, 1), audio_rel_db: round(audioRel, 1), audio_peaks: b.audioPeaks ?? 0 }
      : {}),
    score_raw: round(raw, 4),
  };
  return out;
}

/** The segment's loudest audio moment, when there is audible audio. */
function audioPeak(base: HighlightsBaseline, b: NativeBaselineSegment | undefined, seg: NativeSegmentEvent): number | null {
  if (!base.audioMeasured || base.audioSilent || !b || b.audioLoudestAt === undefined || (b.audioLoudest ?? -100) < -60) return null;
  return round(Math.min(seg.end, Math.max(seg.start, b.audioLoudestAt)));
}

/**
 * The within-video rank: every segment's index, best first (by the unrounded score), for
 * clients that want the top N whatever the scores mean. Live segment events stay identical to
 * the results, so the rank is a list of its own rather than a field of each segment.
 */
export function ranking(all: HighlightSegment[]): number[] {
  return [...all]
    .sort(
      (a, b) =>
        Number(b.analysis_success) - Number(a.analysis_success) ||
        b.significance_score - a.significance_score ||
        (b.signals?.score_raw ?? 0) - (a.signals?.score_raw ?? 0) ||
        a.index - b.index,
    )
    .map((s) => s.index);
}

/** Segments at or above minSignificance, best first, at most max. */
export function pickHighlights(all: HighlightSegment[], minSignificance: number, max: number): HighlightSegment[] {
  return all
    .filter((s) => s.analysis_success && s.significance_score >= minSignificance)
    .sort(
      (a, b) =>
        b.significance_score - a.significance_score ||
        (b.signals?.score_raw ?? 0) - (a.signals?.score_raw ?? 0) ||
        a.start_timestamp - b.start_timestamp,
    )
    .slice(0, max);
}
