// The engine contract: what the session store (src/streams) needs from any analysis engine.
// The embedded `signal` engine (native FFmpeg addon) and the SmolVLM2 engine both implement it.
import type { Observable } from 'rxjs';

export type AnalysisType = 'highlights' | 'workout';

/** Probe of a media file, display dimensions (rotation applied). */
export interface VideoInfo {
  duration: number;
  width: number;
  height: number;
  fps: number;
  has_audio: boolean;
  video_codec: string;
  audio_codec: string | null;
  rotation: number;
}

export interface HighlightsParams {
  min_significance: number;
  max_highlights: number;
  /** Seconds; undefined = chosen from the video's length. */
  segment_duration?: number;
}

export interface WorkoutParams {
  segment_duration: number;
  system_prompt?: string;
  user_prompt?: string;
}

export type AnalysisRequest =
  | { type: 'highlights'; file: string; params: HighlightsParams; media?: MediaOutput }
  | { type: 'workout'; file: string; params: WorkoutParams; media?: MediaOutput };

/** Where an engine writes the pictures it makes while analysing (paths chosen by the store). */
export interface MediaOutput {
  /** A segment's thumbnail JPEG; `{n}` stands for the segment index. */
  thumbnailFile: string;
  /** A storyboard sprite JPEG; `{n}` stands for the sprite number. */
  spriteFile: string;
  /** The storyboard's index (JSON: StoryboardIndex), written when the analysis ends. */
  storyboardFile: string;
}

/** Storyboard tiles in time order, each a rectangle of one sprite. */
export interface StoryboardIndex {
  tileWidth: number;
  tileHeight: number;
  sprites: Array<{ width: number; height: number }>;
  tiles: Array<{ start: number; end: number; sprite: number; x: number; y: number }>;
}

/** Extension: links to a segment's media (added by the service; absent from engine output). */
export interface SegmentMedia {
  /** MP4 of exactly this span. */
  clip_url?: string;
  /** JPEG (320 px wide) of the segment's most representative frame; null when none was made. */
  thumbnail_url?: string | null;
}

/** Extension: links to a result's media (added by the service). */
export interface ResultMedia {
  /** The highlights (workout: the exercise steps) joined in time order; null when there are none. */
  reel_url?: string | null;
  /** WebVTT thumbnails track (sprites with #xywh= fragments); null when none was made. */
  storyboard_url?: string | null;
}

export interface HighlightSegment extends SegmentMedia {
  index: number;
  start_timestamp: number;
  end_timestamp: number;
  timestamp_formatted: string;
  significance_score: number;
  description: string;
  analysis_success: boolean;
  /** Extension: the measured signals behind the score (engine specific). */
  signals?: Record<string, number>;
  /** Extension: which source decided the score ("signal" or "model"). */
  score_source?: 'signal' | 'model';
  /** Extension: seconds of the segment's loudest audio moment; null without (audible) audio. */
  audio_peak_timestamp?: number | null;
  /** Extension: seconds of the hard cuts inside the segment. */
  cut_timestamps?: number[];
  /** Extension: the camera's own movement; null when the picture has too little texture to tell. */
  camera_motion?: CameraMotion | null;
  /** Extension: picture change left once camera motion and brightness changes are compensated (0..255). */
  subject_motion?: number;
}

/** Camera movement of a segment, per second, in frame units. */
export interface CameraMotion {
  /** Frame widths per second; negative: the camera pans left. */
  pan: number;
  /** Frame heights per second; positive: the camera tilts up. */
  tilt: number;
  /** Relative scale change per second; positive: zooming in. */
  zoom: number;
  /** Change of the camera's velocity between samples, frame widths (handheld shake). */
  shake: number;
  /** The brightness changes steadily (fade). */
  fade: boolean;
  /** In words: "camera pans left", "handheld", "steady camera", "fade". */
  description: string;
}

export type WarningCode = 'truncated' | 'no_audio' | 'audio_unreadable' | 'variable_frame_rate' | 'decode_errors';

/** Something about the input that limits what the result can say. */
export interface AnalysisWarning {
  code: WarningCode;
  message: string;
  /** decode_errors: how many. */
  count?: number;
}

/** A stretch between hard cuts. */
export interface Shot {
  index: number;
  start_timestamp: number;
  end_timestamp: number;
}

export interface WorkoutSegment extends SegmentMedia {
  index: number;
  start_timestamp: number;
  end_timestamp: number;
  timestamp_formatted: string;
  exercise_name: string;
  movement_phase: string;
  is_transition: boolean;
  rep_count: number;
  description: string;
  analysis_success: boolean;
  /** Extension: seconds of the hard cuts inside the segment. */
  cut_timestamps?: number[];
}

export interface ExerciseStep extends SegmentMedia {
  exercise_name: string;
  start_timestamp: number;
  end_timestamp: number;
  duration: number;
  timestamp_formatted: string;
  rep_count: number;
  description: string;
  /** Extension: seconds per repetition. */
  tempo_seconds_per_rep?: number;
  /** Extension: seconds at which each counted repetition completed (rep_count of them). */
  rep_timestamps?: number[];
}

export interface EngineInfo {
  name: string;
  model: string | null;
}

export interface VideoSummary {
  duration: number;
  width: number;
  height: number;
  fps: number;
  has_audio: boolean;
  /** Extension: seconds of video actually analysed (duration is what the container says). */
  analysed_duration?: number;
}

export interface HighlightsResult extends ResultMedia {
  analysis_type: 'highlights';
  engine: EngineInfo;
  video: VideoSummary;
  settings: { min_significance: number; max_highlights: number; segment_duration: number };
  processing_time_seconds: number;
  total_segments_analyzed: number;
  highlights_found: number;
  highlights: HighlightSegment[];
  all_analyses: HighlightSegment[];
  /** Extension: within-video rank, every segment's index best first (whatever the scores). */
  ranking?: number[];
  /** Extension: the shots between hard cuts. */
  shots?: Shot[];
  /** Extension: problems with the input (empty when none). */
  warnings?: AnalysisWarning[];
}

export interface WorkoutResult extends ResultMedia {
  analysis_type: 'workout_with_timestamps';
  engine: EngineInfo;
  video: VideoSummary;
  processing_time_seconds: number;
  total_duration_seconds: number;
  total_segments_analyzed: number;
  segment_analyses: WorkoutSegment[];
  exercise_steps: ExerciseStep[];
  summary: { total_exercises_identified: number; total_reps: number; video_duration_formatted: string };
  /** Extension: the shots between hard cuts. */
  shots?: Shot[];
  /** Extension: problems with the input (empty when none). */
  warnings?: AnalysisWarning[];
}

export type AnalysisResult = HighlightsResult | WorkoutResult;

export type EngineEvent =
  | {
      type: 'progress';
      /** 0..1, never decreasing within a job. */
      progress: number;
      currentStep: string;
      segments: { completed: number; total: number };
    }
  | { type: 'segment'; segment: HighlightSegment | WorkoutSegment };

/** One running analysis. */
export interface AnalysisJob {
  /**
   * Progress and segment events in order. Replays everything emitted so far to late
   * subscribers; completes after the last event (before `result` resolves or rejects).
   */
  readonly events: Observable<EngineEvent>;
  /** Resolves with the final result; rejects with an EngineError. */
  readonly result: Promise<AnalysisResult>;
  /** Stops the work within 100 ms; `result` then rejects with code `cancelled`. Idempotent. */
  cancel(): void;
}

export interface EngineHealth {
  ready: boolean;
  /** `degraded` when a configured model failed to load; the reason goes in `detail`. */
  state: 'ready' | 'loading' | 'degraded';
  detail?: string;
}

export interface Engine {
  readonly info: EngineInfo;
  health(): EngineHealth;
  /** Rejects with EngineError code `unsupported_media` when the file holds no decodable video. */
  probe(file: string): Promise<VideoInfo>;
  analyze(request: AnalysisRequest): AnalysisJob;
  close(): Promise<void>;
}

export type EngineErrorCode =
  | 'unsupported_media' // not a video we can open/decode at all
  | 'decode_error' // failed while decoding
  | 'cancelled'
  | 'internal';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
