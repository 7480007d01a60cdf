// Session events and the state they produce. The event log is the single source of truth:
// a session's state is a fold of its events (see reduce), which is also how it is recovered
// from the journal after a restart.

export type SessionStatus = 'uploading' | 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
export type AnalysisKind = 'highlights' | 'workout';

export const TERMINAL_STATUSES: ReadonlySet<SessionStatus> = new Set(['completed', 'failed', 'cancelled']);
export const isTerminal = (s: SessionStatus) => TERMINAL_STATUSES.has(s);

export interface ErrorInfo {
  code: string;
  message: string;
}

export type EventType = 'status' | 'upload' | 'progress' | 'segment' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_EVENTS: ReadonlySet<EventType> = new Set(['completed', 'failed', 'cancelled']);

export interface SessionEvent {
  seq: number;
  type: EventType;
  data: Record<string, unknown>;
  /** ISO time the event was appended. */
  at: string;
}

/** What a session is, fixed at creation. */
export interface SessionMeta {
  sessionId: string;
  analysisType: AnalysisKind;
  params: Record<string, unknown>;
  createdAt: string;
  /** Sanitised original filename (display only, never a path). */
  filename: string | null;
  /** Declared size for resumable uploads. */
  uploadLength?: number | null;
  /** Where the terminal event is POSTed (webhooks.ts). */
  webhook?: WebhookTarget | null;
}

export interface WebhookTarget {
  url: string;
  /** The service's base URL as the uploader reached it, for the results URL. */
  base: string;
}

export interface SessionState {
  sessionId: string;
  analysisType: AnalysisKind;
  status: SessionStatus;
  progress: number;
  currentStep: string;
  segments: { completed: number; total: number };
  createdAt: string;
  updatedAt: string;
  error: ErrorInfo | null;
  upload: { receivedBytes: number; totalBytes: number | null } | null;
}

const STEP_FOR_STATUS: Record<SessionStatus, string> = {
  uploading: 'Uploading',
  pending: 'Queued',
  processing: 'Starting analysis',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function initialState(meta: SessionMeta, status: SessionStatus): SessionState {
  return {
    sessionId: meta.sessionId,
    analysisType: meta.analysisType,
    status,
    progress: 0,
    currentStep: STEP_FOR_STATUS[status],
    segments: { completed: 0, total: 0 },
    createdAt: meta.createdAt,
    updatedAt: meta.createdAt,
    error: null,
    upload: status === 'uploading' ? { receivedBytes: 0, totalBytes: meta.uploadLength ?? null } : null,
  };
}

/** Applies one event; pure. Terminal states never change; progress never decreases. */
export function reduce(state: SessionState, ev: SessionEvent): SessionState {
  if (isTerminal(state.status)) return state;
  const next: SessionState = { ...state, updatedAt: ev.at };
  const d = ev.data;
  switch (ev.type) {
    case 'status':
      enterStatus(next, d.status as SessionStatus, (d.error as ErrorInfo | undefined) ?? null);
      break;
    case 'upload':
      next.upload = { receivedBytes: Number(d.receivedBytes), totalBytes: (d.totalBytes as number | null) ?? null };
      break;
    case 'progress': {
      next.progress = Math.max(state.progress, Math.min(Number(d.progress) || 0, 0.999));
      if (typeof d.currentStep === 'string') next.currentStep = d.currentStep;
      const seg = d.segments as SessionState['segments'] | undefined;
      if (seg) next.segments = { completed: seg.completed, total: seg.total };
      break;
    }
    case 'segment':
      break;
    // Terminal events normally follow a `status` event that already moved the state; they only
    // matter on their own for logs written without one.
    case 'completed':
    case 'cancelled':
      enterStatus(next, ev.type, null);
      break;
    case 'failed':
      enterStatus(next, 'failed', (d.error as ErrorInfo | undefined) ?? null);
      break;
  }
  return next;
}

function enterStatus(next: SessionState, status: SessionStatus, error: ErrorInfo | null): void {
  next.status = status;
  next.currentStep = STEP_FOR_STATUS[status] ?? next.currentStep;
  if (status === 'completed') {
    next.progress = 1;
    next.segments = { completed: next.segments.total, total: next.segments.total };
  }
  if (status === 'failed') next.error = error ?? { code: 'internal', message: 'Analysis failed' };
}
