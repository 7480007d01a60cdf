// What the client sends and receives. Event, status and result types are the server's own
// (src/streams, src/engine), imported rather than copied, so the two cannot disagree.
import type { AnalysisResult, AnalysisType, HighlightsResult, HighlightSegment, WorkoutResult, WorkoutSegment, ExerciseStep } from '../../src/engine/types.js';
import type { ErrorInfo, EventType, SessionEvent, SessionState, SessionStatus } from '../../src/streams/events.js';
import type { SessionLinks } from '../../src/server/links.js';

export type { AnalysisResult, AnalysisType, ErrorInfo, EventType, ExerciseStep, HighlightSegment, HighlightsResult, SessionLinks, SessionStatus, WorkoutResult, WorkoutSegment };

/**
 * The status object (GET /status/:id): the session's state (src/streams/service.ts statusView),
 * with the file's name, and the upload's progress only while uploading.
 */
export type SessionStatusView = Omit<SessionState, 'upload'> & {
  filename: string | null;
  upload?: { receivedBytes: number; totalBytes: number | null };
};

/** One event as it arrives over SSE or WebSocket (the log's `at` stays on the server). */
export type ClientEvent = Pick<SessionEvent, 'seq' | 'type' | 'data'>;

export const TERMINAL_EVENT_TYPES: readonly EventType[] = ['completed', 'failed', 'cancelled'];

/** POST /upload's 202 and tus creation's 201. */
export interface UploadAccepted {
  sessionId: string;
  status: SessionStatus;
  links: SessionLinks;
}

/** One page of GET /sessions. */
export interface SessionPage {
  sessions: Array<SessionStatusView & { links: SessionLinks }>;
  nextCursor: string | null;
}

export interface ResultsResponse<R extends AnalysisResult = AnalysisResult> {
  sessionId: string;
  status: 'completed';
  results: R;
}

export interface HighlightsParams {
  min_significance?: number;
  max_highlights?: number;
  segment_duration?: number;
}

export interface WorkoutParams {
  segment_duration?: number;
  system_prompt?: string;
  user_prompt?: string;
}

export interface UploadOptions {
  analysisType?: AnalysisType;
  params?: HighlightsParams | WorkoutParams;
  /** The name the server shows (defaults to the file's). */
  filename?: string;
  signal?: AbortSignal;
}

/** An error answer of the API (`{"error":{code,message}}`), or a session that did not complete. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The session ended `failed` or `cancelled` while waiting for its results. */
export class SessionEndedError extends Error {
  constructor(
    readonly sessionId: string,
    readonly status: 'failed' | 'cancelled',
    readonly error: ErrorInfo | null,
  ) {
    super(status === 'failed' ? `The analysis failed: ${error?.message ?? 'unknown error'}` : 'The session was cancelled');
    this.name = 'SessionEndedError';
  }
}
