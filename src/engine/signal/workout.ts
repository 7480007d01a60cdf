// Repetition counting from the vertical position of motion (centroid of changed pixels,
// sampled at ~10 fps). A hysteresis turning-point detector finds the up/down extremes; every
// return to the far end of the movement is a rep; reps are grouped into sets separated by rest.
// It runs forward (streaming). A window is described once nothing later can change it (see
// settledUntil): reps are booked to the window they happen in, a window inside a set is
// "Execution", and only the windows where a set starts or ends are transitions, so the windows
// agree with exercise_steps and their rep counts add up to the total.
import { formatRange, round } from '../format.js';
import type { NativeSeries } from '../native.js';
import type { ExerciseStep, WorkoutSegment } from '../types.js';

type Extreme = 'min' | 'max';

interface TurningPoint {
  type: Extreme;
  /** When the extreme was reached. */
  t: number;
  /** Last moment the position was still near the extreme (> t after a pause there). */
  tEnd: number;
  value: number;
}

interface RepSet {
  number: number; // 0 until the set is confirmed (MIN_REPS reps)
  firstType: Extreme;
  tps: TurningPoint[];
  repTimes: number[];
  closed: boolean;
}

// A set is confirmed once it has MIN_REPS regular reps: similar durations (coefficient of
// variation of the rep intervals) and similar swings. Random motion rarely passes this.
const MIN_REPS = 3;
const MAX_INTERVAL_CV = 0.35;
const MAX_SWING_CV = 0.5;
const MIN_TEMPO = 0.4;
const MIN_PERIODICITY = 0.4;
const MAX_TEMPO = 10;
const MIN_AREA = 0.002; // share of moving pixels for the centroid to mean anything
const MAX_AREA = 0.5; // more than this moving: the camera moves, the centroid means nothing
const ACTIVE_AREA = 0.004;
const ACTIVE_ENERGY = 0.8;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function diffs(values: number[]): number[] {
  return values.slice(1).map((v, i) => v - values[i]);
}

function variation(values: number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (mean <= 0) return Infinity;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return sd / mean;
}

/**
 * Normalised autocorrelation of the position signal between t0 and t1 (resampled at 10 Hz,
 * mean removed) at the given lag in seconds.
 */
export function autocorrelation(history: { t: number; y: number }[], t0: number, t1: number, lag: number): number {
  const step = 0.1;
  const pts = history.filter((p) => p.t >= t0 - step && p.t <= t1 + step);
  if (pts.length < 4 || t1 - t0 < 2 * lag) return 0;
  const grid: number[] = [];
  let j = 0;
  for (let t = t0; t <= t1; t += step) {
    while (j < pts.length - 2 && pts[j + 1].t < t) j++;
    const a = pts[j];
    const b = pts[Math.min(j + 1, pts.length - 1)];
    const f = b.t > a.t ? Math.min(1, Math.max(0, (t - a.t) / (b.t - a.t))) : 0;
    grid.push(a.y + (b.y - a.y) * f);
  }
  const mean = grid.reduce((x, y) => x + y, 0) / grid.length;
  const x = grid.map((v) => v - mean);
  const k = Math.round(lag / step);
  if (k < 1 || k >= x.length) return 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) den += x[i] * x[i];
  for (let i = 0; i + k < x.length; i++) num += x[i] * x[i + k];
  return den > 0 ? (num / den) * (x.length / (x.length - k)) : 0;
}

export class WorkoutTracker {
  private h = 0.04; // hysteresis, in frame heights
  private readonly amplitudes: number[] = [];
  private readonly smooth: number[] = [];
  /** Recent smoothed positions, for the periodicity check (about a minute). */
  private readonly history: { t: number; y: number }[] = [];
  private mode: 'init' | 'seekMax' | 'seekMin' = 'init';
  private minV = Infinity;
  private minT = 0;
  private minLastT = 0;
  private maxV = -Infinity;
  private maxT = 0;
  private maxLastT = 0;
  private cand = 0;
  private candT = 0;
  private candLastT = 0;
  private lastTp: TurningPoint | null = null;
  private current: RepSet | null = null;
  private readonly sets: RepSet[] = [];
  private lastT = 0;
  private tracked = false;
  /** Reps already counted in described windows. */
  private booked = 0;

  constructor(private readonly duration: number) {}

  /** Feeds one segment's samples; returns the share of them with noticeable movement. */
  addSeries(series: NativeSeries): number {
    let active = 0;
    for (let i = 0; i < series.t.length; i++) if (this.push(series.t[i], series.energy[i], series.cy[i], series.area[i])) active++;
    return series.t.length > 0 ? active / series.t.length : 0;
  }

  /** Returns whether the sample shows noticeable movement. */
  push(t: number, energy: number, cy: number, area: number): boolean {
    this.lastT = Math.max(this.lastT, t);
    if (energy < 0) return false; // scene cut: no motion information
    const active = area >= ACTIVE_AREA && energy >= ACTIVE_ENERGY;
    this.checkTimeout(t);
    if (!(cy >= 0) || area < MIN_AREA || area > MAX_AREA) return active;
    this.smooth.push(cy);
    if (this.smooth.length > 3) this.smooth.shift();
    const y = this.smooth.reduce((a, b) => a + b, 0) / this.smooth.length;
    this.history.push({ t, y });
    while (this.history.length > 0 && this.history[0].t < t - 60) this.history.shift();
    this.tracked = true;
    this.track(t, y);
    return active;
  }

  /**
   * Everything before this time is final: no rep, set start or set end can still appear there.
   * A candidate set could still be confirmed back to its first turning point, an open set can
   * still get a rep at its pending turning point, and a pending turning point can start a set.
   */
  settledUntil(): number {
    let h = this.lastT;
    const set = this.current;
    const open = !!set && !set.closed;
    if (open && set!.number === 0) h = Math.min(h, set!.tps[0].t);
    if (open && set!.number > 0) h = Math.min(h, set!.tps[set!.tps.length - 1].t);
    if (this.mode === 'init') {
      if (this.tracked) h = Math.min(h, this.minLastT, this.maxLastT, this.minT, this.maxT);
    } else {
      h = Math.min(h, open ? this.candT : this.candLastT);
    }
    return h;
  }

  private track(t: number, y: number): void {
    const h = this.h;
    if (this.mode === 'init') {
      if (y < this.minV) [this.minV, this.minT] = [y, t];
      if (y > this.maxV) [this.maxV, this.maxT] = [y, t];
      if (y <= this.minV + h / 2) this.minLastT = t;
      if (y >= this.maxV - h / 2) this.maxLastT = t;
      if (this.maxV - this.minV >= h) {
        if (this.maxT > this.minT) {
          this.confirm({ type: 'min', t: this.minT, tEnd: this.minLastT, value: this.minV });
          this.mode = 'seekMax';
          [this.cand, this.candT, this.candLastT] = [this.maxV, this.maxT, t];
        } else {
          this.confirm({ type: 'max', t: this.maxT, tEnd: this.maxLastT, value: this.maxV });
          this.mode = 'seekMin';
          [this.cand, this.candT, this.candLastT] = [this.minV, this.minT, t];
        }
      }
      return;
    }
    const seekingMax = this.mode === 'seekMax';
    const beyond = seekingMax ? y > this.cand : y < this.cand;
    if (beyond) {
      [this.cand, this.candT, this.candLastT] = [y, t, t];
    } else if (Math.abs(y - this.cand) <= h / 2) {
      this.candLastT = t;
    }
    if (Math.abs(y - this.cand) >= h && !beyond) {
      this.confirm({ type: seekingMax ? 'max' : 'min', t: this.candT, tEnd: this.candLastT, value: this.cand });
      this.mode = seekingMax ? 'seekMin' : 'seekMax';
      [this.cand, this.candT, this.candLastT] = [y, t, t];
    }
  }

  /** Whether a candidate set's reps look like deliberate repetitions. */
  private regular(set: RepSet): boolean {
    const intervals = diffs(set.repTimes);
    const tempo = median(intervals);
    if (tempo < MIN_TEMPO || tempo > MAX_TEMPO) return false;
    if (variation(intervals) > MAX_INTERVAL_CV) return false;
    const swings = diffs(set.tps.map((p) => p.value)).map(Math.abs);
    if (variation(swings) > MAX_SWING_CV) return false;
    // The movement itself must repeat: position correlates with itself one rep later and
    // anti-correlates half a rep later.
    const t0 = set.repTimes[0] - tempo / 2;
    const t1 = set.repTimes[set.repTimes.length - 1];
    return autocorrelation(this.history, t0, t1, tempo) >= MIN_PERIODICITY && autocorrelation(this.history, t0, t1, tempo / 2) < 0;
  }

  private tempo(set: RepSet | null): number {
    if (!set) return 2;
    if (set.repTimes.length >= 2) return median(diffs(set.repTimes));
    if (set.tps.length >= 2) return 2 * median(diffs(set.tps.map((p) => p.t)));
    return 2;
  }

  private restGap(set: RepSet | null): number {
    return Math.min(15, Math.max(3, 2.5 * this.tempo(set)));
  }

  private confirm(tp: TurningPoint): void {
    if (this.lastTp) {
      this.amplitudes.push(Math.abs(tp.value - this.lastTp.value));
      if (this.amplitudes.length > 6) this.amplitudes.shift();
      this.h = Math.min(0.15, Math.max(0.025, 0.35 * median(this.amplitudes)));
    }
    const set = this.current;
    const gap = this.restGap(set);
    const attached = !!set && !!this.lastTp && tp.t - this.lastTp.tEnd <= gap;
    if (attached) this.addTurningPoint(set!, tp);
    const pausedHere = tp.tEnd - tp.t > gap;
    if (!attached || pausedHere) {
      if (set && !set.closed) this.close(set);
      this.current = { number: 0, firstType: tp.type, tps: [{ ...tp, t: tp.tEnd }], repTimes: [], closed: false };
    }
    this.lastTp = tp;
  }

  private addTurningPoint(set: RepSet, tp: TurningPoint): void {
    set.tps.push(tp);
    if (tp.type === set.firstType) return;
    if (set.number > 0) {
      // Far quicker than the set's tempo: jitter around a turning point, not a rep.
      const last = set.repTimes[set.repTimes.length - 1];
      if (tp.t - last < 0.5 * this.tempo(set)) return;
      set.repTimes.push(tp.t);
      return;
    }
    set.repTimes.push(tp.t);
    if (set.repTimes.length > MIN_REPS + 2 && !this.regular(set)) {
      // Still irregular after a few more tries: keep only the most recent reps as the candidate.
      set.repTimes.shift();
      while (set.tps.length > 1 && set.tps[0].t < set.repTimes[0] - 2 * this.tempo(set)) set.tps.shift();
    }
    if (set.repTimes.length >= MIN_REPS && this.regular(set)) {
      set.number = this.sets.length + 1;
      this.sets.push(set);
    }
  }

  private close(set: RepSet): void {
    set.closed = true;
  }

  private checkTimeout(t: number): void {
    const set = this.current;
    if (set && !set.closed && this.lastTp && t - this.lastTp.tEnd > this.restGap(set)) this.close(set);
  }

  /** Start and end of a confirmed set, as exercise_steps reports them (end Infinity while open). */
  private span(set: RepSet): { start: number; end: number } {
    const first = set.tps[0];
    const last = set.tps[set.tps.length - 1];
    const start = Math.max(0, first.t);
    if (!set.closed && this.current === set) return { start, end: Infinity };
    const reps = set.repTimes.length;
    let end = last.type === set.firstType ? last.t : set.repTimes[reps - 1] + this.tempo(set) / 2;
    end = Math.min(this.duration > 0 ? this.duration : end, Math.max(end, start));
    return { start, end };
  }

  /** Ends the tracking (call before describing the last windows and before finish). */
  end(): void {
    this.checkTimeout(Infinity);
  }

  /**
   * Describes the window [start, end) from the sets found so far; call in time order, once it
   * is settled (settledUntil() >= end) or when it has to go out anyway (then reps confirmed
   * later are booked to the next window). activeShare: from addSeries.
   */
  describeWindow(index: number, start: number, end: number, samples: number, activeShare: number, last = false): WorkoutSegment {
    let repsBefore = 0;
    let best: { set: RepSet; reps: number; overlap: number } | null = null;
    let starts = false;
    let ends = false;
    for (const set of this.sets) {
      const sp = this.span(set);
      const inside = set.repTimes.filter((t) => t >= start && (last || t < end)).length;
      repsBefore += set.repTimes.filter((t) => last || t < end).length;
      const overlap = Math.min(end, sp.end) - Math.max(start, sp.start);
      if (overlap <= 0 && inside === 0) continue;
      if (sp.start >= start && sp.start < end) starts = true;
      if (Number.isFinite(sp.end) && sp.end >= start && (last ? sp.end <= end : sp.end < end)) ends = true;
      if (!best || inside > best.reps || (inside === best.reps && overlap > best.overlap)) best = { set, reps: inside, overlap };
    }
    const reps = Math.max(0, repsBefore - this.booked);
    this.booked += reps;
    const set = best?.set ?? null;
    const isTransition = starts || ends;
    let phase: string;
    let description: string;
    if (samples === 0) {
      phase = 'unknown';
      description = 'this part of the video could not be decoded';
    } else if (set) {
      const tempo = this.tempo(set);
      phase = 'Execution';
      description =
        reps > 0
          ? `${reps} rep${reps === 1 ? '' : 's'} of Set ${set.number}, ~${tempo.toFixed(1)} s per rep`
          : `Set ${set.number} in progress, no repetition completed in this window`;
      if (starts) description += ', set starts';
      if (ends) description += ', set ends, rest follows';
    } else if (activeShare > 0.3) {
      phase = 'Movement';
      description = 'movement, no repetitions counted';
    } else {
      phase = 'Rest';
      description = 'rest, little movement';
    }
    return {
      index,
      start_timestamp: round(start),
      end_timestamp: round(end),
      timestamp_formatted: formatRange(start, end),
      exercise_name: set ? `Set ${set.number}` : 'Rest',
      movement_phase: phase,
      is_transition: isTransition,
      rep_count: reps,
      description,
      analysis_success: samples > 0,
    };
  }

  /** The sets found (after the last window). */
  finish(): { steps: ExerciseStep[]; totalReps: number } {
    this.checkTimeout(Infinity);
    const steps = this.sets.map((set): ExerciseStep => {
      const reps = set.repTimes.length;
      const tempo = this.tempo(set);
      const { start, end } = this.span(set);
      return {
        exercise_name: `Set ${set.number}`,
        start_timestamp: round(start),
        end_timestamp: round(end),
        duration: round(end - start),
        timestamp_formatted: formatRange(start, end),
        rep_count: reps,
        description: `${reps} repetitions of a periodic up-down movement, ~${tempo.toFixed(1)} s per rep`,
        tempo_seconds_per_rep: round(tempo, 2),
        rep_timestamps: set.repTimes.map((t) => round(t, 2)),
      };
    });
    return { steps, totalReps: steps.reduce((n, s) => n + s.rep_count, 0) };
  }
}
