// Warnings about the input, from the probe and the native passes: what the result could not
// see, so a client can tell "nothing happened" from "we could not look".
import { round } from '../format.js';
import type { NativeBaselineEvent, NativeDoneEvent } from '../native.js';
import type { AnalysisWarning, Shot, VideoInfo } from '../types.js';

/** Analysed this much less than the container declares (seconds, or share of it): truncated. */
const TRUNCATED_SECONDS = 1;
const TRUNCATED_SHARE = 0.05;
/** Share of frame intervals off the median by more than 25% before the frame rate counts as variable. */
const VFR_SHARE = 0.1;

export function inputWarnings(info: VideoInfo, base: NativeBaselineEvent, done: NativeDoneEvent, analysed: number): AnalysisWarning[] {
  const out: AnalysisWarning[] = [];
  const declared = base.declaredDuration;
  if (declared > 0 && analysed < declared - Math.max(TRUNCATED_SECONDS, TRUNCATED_SHARE * declared)) {
    out.push({
      code: 'truncated',
      message: `only ${round(analysed, 1)} s of the ${round(declared, 1)} s the file declares could be analysed; the file is probably cut off`,
    });
  } else if (base.endedWithError) {
    out.push({ code: 'truncated', message: `the file ends in the middle of its data (cut off); the ${round(analysed, 1)} s before that were analysed` });
  }
  if (!info.has_audio) out.push({ code: 'no_audio', message: 'the file has no audio track; scores use the picture only' });
  else if (base.audio.failed) out.push({ code: 'audio_unreadable', message: 'the audio track could not be decoded; scores use the picture only' });
  const t = base.timing;
  // Motion is measured per second of presentation time, so an uneven frame rate only matters
  // where frames are missing for longer than the sampling needs (a quarter second).
  if (t.frames > 10 && t.irregularShare >= VFR_SHARE && t.longestInterval > 0.3) {
    out.push({
      code: 'variable_frame_rate',
      message: `variable frame rate: ${Math.round(t.irregularShare * 100)}% of the frame intervals differ from the usual ${round(t.medianInterval * 1000, 0)} ms, the longest gap is ${round(t.longestInterval, 2)} s; motion across such gaps is not measured`,
    });
  }
  if (done.decodeErrors > 0) {
    out.push({
      code: 'decode_errors',
      message: `${done.decodeErrors} decoding error${done.decodeErrors === 1 ? '' : 's'}: damaged parts of the picture were skipped`,
      count: done.decodeErrors,
    });
  }
  return out;
}

/** Shots from the hard cuts (sorted seconds) over [0, end]. */
export function shotsFromCuts(cuts: number[], end: number): Shot[] {
  const bounds = [0, ...cuts.filter((t) => t > 0.05 && t < end - 0.05), end];
  const shots: Shot[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) shots.push({ index: i, start_timestamp: round(bounds[i]), end_timestamp: round(bounds[i + 1]) });
  return shots;
}
