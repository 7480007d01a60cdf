// The media of sessions as the routes ask for them: which segment, step or picture exists now,
// which will exist later (MediaNotReadyError) and which never will (MediaNotFoundError); the
// files themselves belong to the MediaStore. Also adds the media links to segments and results.
import type { AnalysisResult, ExerciseStep, HighlightSegment, StoryboardIndex, WorkoutSegment } from '../engine/types.js';
import { MediaGoneError, MediaNotFoundError, MediaNotReadyError } from './errors.js';
import type { MediaStore } from './media.js';
import type { Session } from './session.js';
import type { SessionStore, UploadStore } from './stores.js';

/** The URLs of the media routes (the server's), so that results can link to them. */
export interface MediaLinks {
  clip(id: string, index: number): string;
  stepClip(id: string, n: number): string;
  reel(id: string): string;
  thumbnail(id: string, index: number): string;
  storyboard(id: string): string;
}

type Span = { start_timestamp: number; end_timestamp: number };

export class SessionMedia {
  constructor(
    private readonly store: SessionStore,
    private readonly uploads: UploadStore,
    private readonly files: MediaStore,
    private readonly result: (id: string) => Promise<AnalysisResult | null>,
    readonly links: MediaLinks | null,
  ) {}

  /** MP4 of segment `index` (cut on the first request). */
  async clip(id: string, index: number): Promise<string> {
    const seg = this.segment(await this.session(id), index);
    return this.cut(id, `clip-${index}`, [[seg.start_timestamp, seg.end_timestamp]]);
  }

  /** MP4 of workout exercise step `n`. */
  async stepClip(id: string, n: number): Promise<string> {
    const result = await this.completed(id);
    const step: ExerciseStep | undefined = result.analysis_type === 'workout_with_timestamps' ? result.exercise_steps[n] : undefined;
    if (!step) throw new MediaNotFoundError('No such exercise step');
    return this.cut(id, `step-${n}`, [[step.start_timestamp, step.end_timestamp]]);
  }

  /** The highlights (workout: exercise steps) joined in time order. */
  async reel(id: string): Promise<string> {
    const spans = reelSpans(await this.completed(id));
    if (!spans.length) throw new MediaNotFoundError('The results have no highlights to join');
    return this.cut(id, 'reel', spans);
  }

  async thumbnail(id: string, index: number): Promise<string> {
    this.segment(await this.session(id), index);
    const file = this.files.thumbnail(id, index);
    if (!file) throw new MediaNotFoundError('No thumbnail was made for this segment');
    return file;
  }

  async storyboard(id: string): Promise<StoryboardIndex> {
    await this.completed(id);
    const board = this.files.storyboard(id);
    if (!board) throw new MediaNotFoundError('No storyboard was made for this video');
    return board;
  }

  async sprite(id: string, n: number): Promise<string> {
    await this.completed(id);
    const file = this.files.sprite(id, n);
    if (!file) throw new MediaNotFoundError('No such storyboard sprite');
    return file;
  }

  /** A segment with its media links (for segment events and results). */
  linkSegment<S extends HighlightSegment | WorkoutSegment>(id: string, seg: S): S {
    if (!this.links) return seg;
    return {
      ...seg,
      clip_url: this.links.clip(id, seg.index),
      thumbnail_url: this.files.thumbnail(id, seg.index) ? this.links.thumbnail(id, seg.index) : null,
    };
  }

  /** A final result with every media link. */
  linkResult(id: string, result: AnalysisResult): AnalysisResult {
    if (!this.links) return result;
    const links = this.links;
    const storyboard_url = this.files.storyboard(id) ? links.storyboard(id) : null;
    const reel_url = reelSpans(result).length ? links.reel(id) : null;
    if (result.analysis_type === 'highlights') {
      const all = result.all_analyses.map((s) => this.linkSegment(id, s));
      const byIndex = new Map(all.map((s) => [s.index, s]));
      return { ...result, reel_url, storyboard_url, highlights: result.highlights.map((h) => byIndex.get(h.index) ?? this.linkSegment(id, h)), all_analyses: all };
    }
    const segments = result.segment_analyses.map((s) => this.linkSegment(id, s));
    const steps = result.exercise_steps.map((step, n) => {
      // A step's picture: the thumbnail of the segment holding its middle.
      const mid = (step.start_timestamp + step.end_timestamp) / 2;
      const seg = segments.find((s) => mid >= s.start_timestamp && mid < s.end_timestamp) ?? segments[segments.length - 1];
      return { ...step, clip_url: links.stepClip(id, n), thumbnail_url: seg?.thumbnail_url ?? null };
    });
    return { ...result, reel_url, storyboard_url, segment_analyses: segments, exercise_steps: steps };
  }

  private async session(id: string): Promise<Session> {
    const s = await this.store.get(id);
    if (!s) throw new MediaNotFoundError('No such session');
    return s;
  }

  private async completed(id: string): Promise<AnalysisResult> {
    const s = await this.session(id);
    const result = s.state.status === 'completed' ? await this.result(id) : null;
    if (result) return result;
    if (s.terminal) throw new MediaNotFoundError(`The session is ${s.state.status}: it has no results`);
    throw new MediaNotReadyError(`Not available yet: the session is ${s.state.status}`);
  }

  /** Segment `index` once the analysis has produced it. */
  private segment(s: Session, index: number): Span {
    for (const ev of s.history()) {
      if (ev.type === 'segment' && ev.data.index === index) return ev.data as unknown as Span;
    }
    const { status, segments } = s.state;
    if (s.terminal || (segments.total > 0 && index >= segments.total)) throw new MediaNotFoundError('No such segment');
    throw new MediaNotReadyError(`Segment ${index} is not analysed yet: the session is ${status}`);
  }

  private async cut(id: string, name: `clip-${number}` | `step-${number}` | 'reel', spans: Array<[number, number]>): Promise<string> {
    try {
      return await this.files.cut(id, name, this.uploads.videoPath(id), spans);
    } catch (err) {
      if (!(await this.store.get(id))) throw new MediaNotFoundError('No such session'); // cleaned up while cutting
      if (!this.uploads.hasVideo(id)) throw new MediaGoneError('The video was deleted (VIDEO_TTL): only clips made before that remain');
      throw err;
    }
  }
}

/** The spans a reel joins, in time order, touching ones merged. */
export function reelSpans(result: AnalysisResult): Array<[number, number]> {
  const spans: Span[] = result.analysis_type === 'highlights' ? result.highlights : result.exercise_steps;
  const sorted = [...spans].sort((a, b) => a.start_timestamp - b.start_timestamp);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start_timestamp <= last[1] + 1e-3) last[1] = Math.max(last[1], s.end_timestamp);
    else out.push([s.start_timestamp, s.end_timestamp]);
  }
  return out;
}
