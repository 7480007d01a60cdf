// One session as the page follows it: its upload (tus, pausable, resumable), its live events
// (SSE through the client, resuming after the last event), its segments and results. No DOM:
// views read this state and are told when it changed.
import type { PreviousUpload } from 'tus-js-client';
import type {
  AnalysisResult,
  AnalysisType,
  ClientEvent,
  Following,
  HighlightSegment,
  SessionStatus,
  TusUploadHandle,
  WorkoutSegment,
} from '../client/src/browser.js';
import { ApiError } from '../client/src/browser.js';
import type { AnalysisWarning } from '../src/engine/types.js';
import { client, finishedUploads, shortError, uploadKey } from './api.js';

export type Segment = HighlightSegment | WorkoutSegment;
export type { AnalysisWarning };

export type UploadState = 'none' | 'starting' | 'running' | 'retrying' | 'paused' | 'done' | 'interrupted' | 'cancelled' | 'failed';
export type ConnState = 'idle' | 'connecting' | 'live' | 'done' | 'error';
/** What changed: views redraw only what depends on it. */
export type Change = 'upload' | 'analysis' | 'conn' | 'segments' | 'results' | 'error' | 'session';

/** A record of what the page did, for tests and debugging (window.__vas.log). */
export interface LogEntry {
  t: number;
  kind: string;
  value?: number;
  detail?: string;
}
export const log: LogEntry[] = [];
export const note = (kind: string, value?: number, detail?: string) => log.push({ t: Math.round(performance.now()), kind, value, detail });

export class Run {
  sessionId: string | null = null;
  analysisType: AnalysisType;
  filename: string | null;
  status: SessionStatus | null = null;
  upload = { state: 'none' as UploadState, sent: 0, total: 0, rate: 0, attempt: 0 };
  analysis = { progress: 0, step: '', completed: 0, total: 0 };
  conn: ConnState = 'idle';
  segments = new Map<number, Segment>();
  results: AnalysisResult | null = null;
  error: string | null = null;
  /** Set when this page ended the session itself. */
  finished = false;

  /** The session shown with its upload interrupted: the file chosen now resumes that upload, whatever the form says. */
  private resumeSession: string | null = null;
  private tus: TusUploadHandle | null = null;
  private following: Following | null = null;
  private speed = { bytes: 0, t: 0 };
  private readonly listeners = new Set<(c: Change) => void>();

  private constructor(
    readonly file: File | null,
    type: AnalysisType,
    private params: Record<string, number> = {},
  ) {
    this.analysisType = type;
    this.filename = file?.name ?? null;
  }

  /** A new upload of `file`; a finished upload of the same file and settings opens its session instead. */
  static async forFile(file: File, type: AnalysisType, params: Record<string, number>, resumeSession: string | null = null): Promise<Run> {
    const run = new Run(file, type, params);
    run.resumeSession = resumeSession;
    const key = uploadKey(file, type, params);
    const known = finishedUploads.get(key);
    if (known) {
      try {
        await client.status(known);
        note('reopen', undefined, known);
        run.upload = { state: 'done', sent: file.size, total: file.size, rate: 0, attempt: 0 };
        run.sessionId = known;
        return run;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        finishedUploads.forget(key);
      }
    }
    return run;
  }

  /** A session named by the page's URL: no local file (unless chosen again to resume its upload). */
  static forSession(sessionId: string): Run {
    const run = new Run(null, 'highlights');
    run.sessionId = sessionId;
    return run;
  }

  onChange(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(c: Change) {
    for (const fn of this.listeners) fn(c);
  }

  get ended(): boolean {
    return this.status === 'completed' || this.status === 'failed' || this.status === 'cancelled' || this.finished;
  }

  /** Starts: the upload if there is one to make, else reads the session and follows it. */
  async start(): Promise<void> {
    if (this.sessionId) {
      await this.attach();
      return;
    }
    this.startUpload();
  }

  private async attach(): Promise<void> {
    const id = this.sessionId!;
    this.changed('session');
    try {
      const st = await client.status(id);
      this.analysisType = st.analysisType;
      this.filename ??= st.filename;
      this.status = st.status;
      this.analysis = { progress: st.progress, step: st.currentStep, completed: st.segments.completed, total: st.segments.total };
      if (st.status === 'uploading' && this.upload.state === 'none') {
        this.upload = { state: 'interrupted', sent: st.upload?.receivedBytes ?? 0, total: st.upload?.totalBytes ?? 0, rate: 0, attempt: 0 };
      }
      if (st.error) this.error = st.error.message;
      this.changed('session');
      this.changed('upload');
      this.changed('analysis');
    } catch (err) {
      this.fail(err instanceof ApiError && err.status === 404 ? 'This session no longer exists on the server.' : `Could not read the session: ${(err as Error).message}`);
      return;
    }
    this.follow();
  }

  private startUpload(): void {
    const file = this.file!;
    this.upload = { state: 'starting', sent: 0, total: file.size, rate: 0, attempt: 0 };
    this.changed('upload');
    const upload = client.tusUpload(file, {
      analysisType: this.analysisType,
      params: this.params,
      filename: file.name,
      onSessionId: (id) => {
        this.sessionId = id;
        note('session', undefined, id);
        this.changed('session');
        this.follow();
      },
      onProgress: (sent, total) => this.uploadProgress(sent, total),
      tus: {
        metadata: { filetype: file.type || 'application/octet-stream' },
        onShouldRetry: (err, attempt) => {
          const status = err.originalResponse?.getStatus() ?? 0;
          const retry = status === 0 || status >= 500 || status === 409 || status === 423;
          if (retry && this.upload.state !== 'paused') {
            this.upload.state = 'retrying';
            this.upload.attempt = attempt + 1;
            this.changed('upload');
          }
          return retry;
        },
      },
    });
    upload.done.then(
      (id) => {
        this.upload = { ...this.upload, state: 'done', sent: file.size, total: file.size };
        finishedUploads.set(uploadKey(file, this.analysisType, this.params), id);
        note('upload-done');
        this.changed('upload');
      },
      (err: Error) => {
        if (this.upload.state === 'cancelled') return;
        this.upload.state = 'failed';
        this.fail(`The upload failed: ${shortError(err)}`);
      },
    );
    this.tus = upload;
    // Same file and settings as an unfinished upload of this browser (or the interrupted session
    // shown): resume it, same session.
    const paramsText = JSON.stringify(this.params);
    upload.upload
      .findPreviousUploads()
      .then((prev: PreviousUpload[]) => {
        const shown = this.resumeSession;
        const same =
          (shown ? prev.find((p) => p.uploadUrl?.endsWith(`/${shown}`)) : undefined) ??
          prev.find((p) => p.metadata.analysis_type === this.analysisType && p.metadata.params === paramsText);
        if (same) {
          // the session keeps the settings it was created with
          this.analysisType = same.metadata.analysis_type as AnalysisType;
          this.params = JSON.parse(same.metadata.params ?? '{}') as Record<string, number>;
          upload.upload.resumeFromPreviousUpload(same);
          note('resume', undefined, same.uploadUrl ?? '');
        }
      })
      .catch(() => {})
      .finally(() => upload.start());
  }

  private uploadProgress(sent: number, total: number) {
    const now = performance.now();
    const s = this.speed;
    if (s.t && now > s.t) this.upload.rate = 0.7 * this.upload.rate + (0.3 * (sent - s.bytes) * 1000) / (now - s.t);
    s.bytes = sent;
    s.t = now;
    if (sent < this.upload.sent || this.upload.state === 'done') return;
    this.upload.sent = sent;
    this.upload.total = total;
    if (this.upload.state === 'starting' || this.upload.state === 'retrying') this.upload.state = 'running';
    note('upload', total ? sent / total : 0);
    this.changed('upload');
  }

  get canPause(): boolean {
    return !!this.tus && ['starting', 'running', 'retrying', 'paused'].includes(this.upload.state);
  }

  togglePause(): void {
    if (!this.tus || !this.canPause) return;
    if (this.upload.state === 'paused') {
      this.upload.state = 'running';
      this.tus.start();
      note('unpause');
    } else {
      this.upload.state = 'paused';
      void this.tus.upload.abort();
      note('pause');
    }
    this.changed('upload');
  }

  async cancel(): Promise<void> {
    this.finished = true;
    this.closeStream();
    const uploading = this.tus && !['done', 'failed'].includes(this.upload.state);
    if (uploading) {
      this.upload.state = 'cancelled';
      await this.tus!.abort(true).catch(() => {});
    } else if (this.sessionId) {
      await client.cancel(this.sessionId).catch(() => {});
    }
    this.status = 'cancelled';
    this.conn = 'idle';
    note('cancelled');
    this.changed('upload');
    this.changed('analysis');
    this.changed('conn');
  }

  /** Stops following without touching the session (leaving the page's view of it). */
  detach(): void {
    this.finished = true;
    this.closeStream();
    if (this.tus && this.upload.state !== 'done') void this.tus.upload.abort();
  }

  // ---- live events ---------------------------------------------------------------------------
  private follow(): void {
    if (this.finished || !this.sessionId) return;
    this.closeStream();
    const following = client.follow(this.sessionId, {
      onEvent: (ev) => this.onEvent(ev),
      onConnection: (state) => {
        if (this.finished || this.ended) return;
        if (state === 'connecting' || state === 'reconnecting') {
          if (state === 'reconnecting') note('sse-error');
          this.conn = 'connecting';
        } else if (state === 'open') {
          this.conn = 'live';
          note('sse-open', this.following?.lastSeq ?? 0);
        }
        this.changed('conn');
      },
    });
    this.following = following;
    following.done.catch((err: Error & { status?: number }) => {
      if (this.finished || this.following !== following || this.ended) return;
      this.fail(err.status === 404 ? 'This session no longer exists on the server.' : `The live stream stopped: ${err.message}`);
    });
  }

  private closeStream() {
    this.following?.close();
    this.following = null;
  }

  private onEvent(ev: ClientEvent): void {
    const { type, data } = ev;
    switch (type) {
      case 'status': {
        this.status = data.status as SessionStatus;
        note('status', undefined, this.status);
        this.changed('analysis');
        break;
      }
      case 'upload': {
        // The server's count of stored bytes; the page's own count moves first while it uploads.
        const { receivedBytes, totalBytes } = data as { receivedBytes: number; totalBytes: number };
        note('server-upload', totalBytes ? receivedBytes / totalBytes : 0);
        if (totalBytes && receivedBytes > this.upload.sent && this.upload.state !== 'done') {
          this.upload.sent = receivedBytes;
          this.upload.total = totalBytes;
          this.changed('upload');
        }
        break;
      }
      case 'progress': {
        const p = data as { progress: number; currentStep: string; segments?: { completed: number; total: number } };
        this.analysis = {
          progress: Math.max(this.analysis.progress, p.progress),
          step: p.currentStep,
          completed: p.segments?.completed ?? this.analysis.completed,
          total: p.segments?.total ?? this.analysis.total,
        };
        note('analysis', this.analysis.progress);
        this.changed('analysis');
        break;
      }
      case 'segment': {
        const s = data as unknown as Segment;
        this.segments.set(s.index, s);
        note('segment', s.index);
        this.changed('segments');
        break;
      }
      case 'completed':
        this.status = 'completed';
        this.analysis.progress = 1;
        this.conn = 'done';
        if (this.upload.state !== 'done' && this.upload.state !== 'none') this.upload.state = 'done';
        this.closeStream();
        note('completed');
        this.changed('analysis');
        this.changed('conn');
        void this.loadResults();
        break;
      case 'failed': {
        const err = (data.error as { message?: string } | undefined) ?? {};
        this.status = 'failed';
        this.fail(err.message ?? 'The analysis failed.');
        break;
      }
      case 'cancelled':
        this.status = 'cancelled';
        this.conn = 'idle';
        this.closeStream();
        note('cancelled');
        this.changed('analysis');
        this.changed('conn');
        break;
    }
  }

  private fail(message: string): void {
    this.closeStream();
    this.error = message;
    this.conn = 'error';
    note('error', undefined, message);
    this.changed('error');
    this.changed('analysis');
    this.changed('conn');
  }

  private async loadResults(): Promise<void> {
    try {
      this.results = await client.results(this.sessionId!);
    } catch (err) {
      this.fail(`Could not load the results (${(err as Error).message}).`);
      return;
    }
    const all: Segment[] = this.results.analysis_type === 'highlights' ? this.results.all_analyses : this.results.segment_analyses;
    all.forEach((s, i) => {
      const index = s.index ?? i;
      if (!this.segments.has(index)) this.segments.set(index, { ...s, index });
    });
    note('results');
    this.changed('segments');
    this.changed('results');
  }

  /** Seconds of video: the results' duration, else the end of the last segment so far. */
  get duration(): number {
    const d = this.results?.video.duration ?? 0;
    return Math.max(d, ...[...this.segments.values()].map((s) => s.end_timestamp), 0);
  }

  get warnings(): AnalysisWarning[] {
    return this.results?.warnings ?? [];
  }
}
