// FROZEN COPY of src/engine/signal/highlights.ts at 65e47cd (before issue 11): the eval's baseline.
// Do not edit; it is what "today's scores" means in the eval table.
// Highlights scoring: every segment is scored from its own measurements plus the baseline
// measured over the whole video before the first segment is analysed, so a live segment
// event is final the moment it's emitted.
import { formatClock, formatRange, round } from '../../src/engine/format.js';
import type { NativeBaselineEvent, NativeBaselineSegment, NativeSegmentEvent } from '../../src/engine/native.js';
import type { HighlightSegment } from '../../src/engine/types.js';

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

function motionWords(motion: number): string {
  if (motion < 1) return 'still picture';
  if (motion < 4) return 'calm';
  if (motion < 12) return 'moderate motion';
  if (motion < 25) return 'fast motion';
  return 'very fast motion';
}

export function scoreSegment(base: HighlightsBaseline, seg: NativeSegmentEvent): HighlightSegment {
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
  };
  if (seg.samples === 0) {
    out.description = 'this part of the video could not be decoded';
    out.signals = { samples: 0 };
    return out;
  }

  // Motion: absolute (gray-level change per 0.25 s at 160 px) and relative to the video's own
  // typical activity (bitstream size of predicted frames, known for every segment up front).
  const motionAbs = clamp01((seg.motion - 2) / 23);
  const activityRatio = b && base.activityMedian > 0 ? b.activity / base.activityMedian : 1;
  const motionRel = clamp01(Math.log2(Math.max(activityRatio, 1e-6)) / 2);
  const motion = 0.6 * motionAbs + 0.4 * motionRel;

  // Hard cuts, as a density (a couple of cuts in 3 s is a lot; in a minute it isn't).
  const cuts = clamp01(1 - Math.exp((-seg.cuts * 3) / length));

  // Audio: loudness against the track's median, and short loud moments.
  let audio = 0;
  let audioRel = 0;
  let transient = 0;
  const useAudio = base.audioMeasured && !base.audioSilent && b?.audioRms !== undefined;
  if (useAudio) {
    audioRel = (b.audioRms ?? -100) - base.audioMedianRms;
    // A short loud moment, against the typical loudest moment of a segment.
    transient = (b.audioLoudest ?? -100) - base.loudestMedian;
    audio = Math.max(clamp01(audioRel / 12), 0.8 * clamp01((transient - 3) / 12));
  }

  const parts = useAudio ? [motion, cuts, audio] : [motion, cuts];
  const weights = useAudio ? [0.45, 0.2, 0.35] : [0.7, 0.3];
  const weighted = parts.reduce((sum, p, i) => sum + p * weights[i], 0);
  // One strong signal already matters; several together matter most.
  const raw = 0.5 * Math.max(...parts) + 0.5 * weighted;
  out.significance_score = Math.min(10, Math.max(1, Math.round(1 + 9 * raw)));

  const words: string[] = [motionWords(seg.motion)];
  if (activityRatio >= 2 && seg.motion >= 3) words[0] += ` (${activityRatio.toFixed(1)}x the video's typical activity)`;
  if (seg.cuts > 0) words.push(seg.cuts === 1 ? '1 hard cut' : `${seg.cuts} hard cuts`);
  if (base.audioMeasured && b?.audioRms !== undefined) {
    const at = formatClock(b.audioLoudestAt ?? seg.start);
    if (base.audioSilent || (b.audioRms ?? -100) < -60) words.push('silent');
    else if (base.loudestSegment === seg.index) words.push(`loudest audio of the video at ${at}`);
    else if (audioRel >= 6) words.push(`loud audio (+${Math.round(audioRel)} dB) peaking at ${at}`);
    else if (transient >= 6) words.push(`audio peak at ${at}`);
    else if (audioRel <= -10) words.push('quiet audio');
    else words.push('usual audio level');
  } else if (!base.audioMeasured) {
    words.push('no audio');
  }
  out.description = words.join(', ');
  out.signals = {
    samples: seg.samples,
    motion: round(seg.motion),
    motion_max: round(seg.motionMax),
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
