// The typed client: REST calls, multipart and tus uploads, following a session's events with
// automatic resume, waiting for results. Works wherever fetch exists; the transport for events
// is chosen by the entry point (browser.ts: SSE, node.ts: WebSocket).
import { Upload, type UploadOptions as TusOptions } from 'tus-js-client';
import type { Transport } from './transport.js';
import {
  ApiError,
  SessionEndedError,
  TERMINAL_EVENT_TYPES,
  type AnalysisResult,
  type ClientEvent,
  type ResultsResponse,
  type SessionPage,
  type SessionStatus,
  type SessionStatusView,
  type UploadAccepted,
  type UploadOptions,
} from './types.js';

const API = '/api/v1/video';

export interface ClientOptions {
  /** The service's URL, e.g. http://localhost:5001 (in a browser: defaults to the page's origin). */
  baseUrl?: string;
  /** API_TOKEN, when the server has one. */
  token?: string | null;
  fetch?: typeof fetch;
  transport: Transport;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface FollowOptions {
  /** Events after this seq (0: the whole log). */
  since?: number;
  onEvent?: (ev: ClientEvent) => void;
  /** Connection changes, for a UI; `detail` says why it is reconnecting. */
  onConnection?: (state: ConnectionState, detail?: string) => void;
  signal?: AbortSignal;
  /** Longest wait between reconnects (ms). */
  maxRetryDelayMs?: number;
}

export interface Following {
  /** Resolves with the terminal event; rejects if the session cannot be followed (404, 401). */
  readonly done: Promise<ClientEvent>;
  /** The last seq passed on. */
  readonly lastSeq: number;
  close(): void;
}

export interface TusUploadOptions extends UploadOptions {
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** Called once the server created the upload (its id is the session id). */
  onSessionId?: (sessionId: string) => void;
  /** Options passed to tus-js-client as they are (retryDelays, chunkSize, urlStorage…). */
  tus?: Partial<TusOptions>;
}

export interface TusUploadHandle {
  /** The underlying tus-js-client upload (pause with abort(), resume with start()). */
  readonly upload: Upload;
  /** Resolves with the session id when the last byte is stored. */
  readonly done: Promise<string>;
  start(): void;
  /** Stops; `terminate` also deletes the upload and its session on the server. */
  abort(terminate?: boolean): Promise<void>;
}

export class VideoClient {
  readonly baseUrl: string;
  readonly token: string | null;
  private readonly fetchImpl: typeof fetch;
  private readonly transport: Transport;

  constructor(opts: ClientOptions) {
    const fallback = typeof location !== 'undefined' ? location.origin : undefined;
    const base = opts.baseUrl ?? fallback;
    if (!base) throw new TypeError('baseUrl is required outside a browser page');
    this.baseUrl = base.replace(/\/+$/, '');
    this.token = opts.token ?? null;
    this.fetchImpl = opts.fetch ?? ((input, init) => fetch(input, init));
    this.transport = opts.transport;
  }

  /** A URL of the service (paths from links and results_url are relative to it). */
  url(path: string): string {
    return new URL(path, this.baseUrl + '/').href;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}`, ...extra } : extra;
  }

  private async request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.fetchImpl(this.url(path), { ...init, method, headers: this.headers(init.headers as Record<string, string>) });
    const text = await res.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (a proxy's page): reported below
    }
    if (!res.ok) {
      const err = body?.error;
      throw new ApiError(res.status, err?.code ?? 'http_error', err?.message ?? `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    }
    return body as T;
  }

  // ---- REST -------------------------------------------------------------------------------------

  /** Uploads a whole file in one multipart request and queues its analysis. */
  upload(file: Blob, opts: UploadOptions = {}): Promise<UploadAccepted> {
    const form = new FormData();
    if (opts.analysisType) form.append('analysis_type', opts.analysisType);
    if (opts.params) form.append('params', JSON.stringify(opts.params));
    form.append('file', file, opts.filename ?? (file as File).name ?? 'video');
    return this.request('POST', `${API}/upload`, { body: form, signal: opts.signal });
  }

  status(sessionId: string): Promise<SessionStatusView> {
    return this.request('GET', `${API}/status/${encodeURIComponent(sessionId)}`);
  }

  /** The results of a completed session (ApiError 409 `not_ready` before). */
  async results<R extends AnalysisResult = AnalysisResult>(sessionId: string): Promise<R> {
    const r = await this.request<ResultsResponse<R>>('GET', `${API}/results/${encodeURIComponent(sessionId)}`);
    return r.results;
  }

  cancel(sessionId: string): Promise<{ sessionId: string; status: 'cancelled' }> {
    return this.request('POST', `${API}/cancel/${encodeURIComponent(sessionId)}`);
  }

  cleanup(sessionId: string): Promise<{ sessionId: string; message: string }> {
    return this.request('DELETE', `${API}/cleanup/${encodeURIComponent(sessionId)}`);
  }

  /** One page of sessions, newest first. */
  list(query: { status?: SessionStatus; limit?: number; cursor?: string | null } = {}): Promise<SessionPage> {
    const q = new URLSearchParams();
    if (query.status) q.set('status', query.status);
    if (query.limit) q.set('limit', String(query.limit));
    if (query.cursor) q.set('cursor', query.cursor);
    const qs = q.toString();
    return this.request('GET', `${API}/sessions${qs ? `?${qs}` : ''}`);
  }

  /** Every session, newest first, page after page. */
  async *listAll(query: { status?: SessionStatus; pageSize?: number } = {}): AsyncGenerator<SessionPage['sessions'][number]> {
    let cursor: string | null = null;
    do {
      const page: SessionPage = await this.list({ status: query.status, limit: query.pageSize ?? 100, cursor });
      yield* page.sessions;
      cursor = page.nextCursor;
    } while (cursor);
  }

  // ---- tus ----------------------------------------------------------------------------------------

  /**
   * A resumable upload (tus 1.0.0), not started yet: call start(). Network drops are retried and
   * resumed at the server's offset; `tus.urlStorage`/fingerprints (tus-js-client's) resume across
   * page loads.
   */
  tusUpload(file: Blob | unknown, opts: TusUploadOptions = {}): TusUploadHandle {
    let resolve!: (id: string) => void;
    let reject!: (err: Error) => void;
    const done = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
    const metadata: Record<string, string> = {};
    const name = opts.filename ?? (file as File)?.name;
    if (name) metadata.filename = name;
    if (opts.analysisType) metadata.analysis_type = opts.analysisType;
    if (opts.params) metadata.params = JSON.stringify(opts.params);
    let sessionId: string | null = null;
    const upload = new Upload(file as Blob, {
      endpoint: this.url(`${API}/uploads`),
      headers: this.headers(),
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      ...opts.tus,
      metadata: { ...metadata, ...opts.tus?.metadata },
      onUploadUrlAvailable: () => {
        sessionId = upload.url!.split('/').pop()!;
        opts.onSessionId?.(sessionId);
        void opts.tus?.onUploadUrlAvailable?.();
      },
      onProgress: (sent, total) => {
        opts.onProgress?.(sent, total);
        opts.tus?.onProgress?.(sent, total);
      },
      onSuccess: (payload) => {
        opts.tus?.onSuccess?.(payload);
        resolve(sessionId ?? upload.url!.split('/').pop()!);
      },
      onError: (err) => {
        opts.tus?.onError?.(err);
        reject(err);
      },
    });
    done.catch(() => {}); // callers that only use the callbacks
    return { upload, done, start: () => upload.start(), abort: (terminate = false) => upload.abort(terminate) };
  }

  // ---- events -------------------------------------------------------------------------------------

  /**
   * Follows a session's events until its terminal event. After a drop it reconnects (backing off)
   * from the last event it passed on, and drops anything it already passed on, so onEvent sees
   * each event once, in order, with no gap.
   */
  follow(sessionId: string, opts: FollowOptions = {}): Following {
    let lastSeq = opts.since ?? 0;
    let closeConn: (() => void) | null = null;
    let finished = false;
    let attempt = 0;
    let eventsThisConnection = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let resolve!: (ev: ClientEvent) => void;
    let reject!: (err: Error) => void;
    const done = new Promise<ClientEvent>((res, rej) => ((resolve = res), (reject = rej)));

    const stop = () => {
      finished = true;
      clearTimeout(timer);
      closeConn?.();
      closeConn = null;
      opts.onConnection?.('closed');
    };
    const fail = (err: Error) => {
      if (finished) return;
      stop();
      reject(err);
    };
    const reconnect = (detail: string) => {
      closeConn?.();
      closeConn = null;
      opts.onConnection?.('reconnecting', detail);
      const delay = Math.min(opts.maxRetryDelayMs ?? 15_000, attempt === 0 ? 0 : 250 * 2 ** attempt);
      attempt++;
      const progressed = eventsThisConnection > 0;
      timer = setTimeout(async () => {
        // A session that is gone (or a token that is wrong) will never stream again, and one that
        // ended and gave nothing new on the last connection has nothing more to give (`since`
        // was already its last event).
        try {
          const st = await this.status(sessionId);
          if (!progressed && attempt > 1 && ['completed', 'failed', 'cancelled'].includes(st.status)) {
            return fail(new ApiError(409, 'ended', `The session is ${st.status} and has no events after ${lastSeq}`));
          }
        } catch (err) {
          if (err instanceof ApiError && (err.status === 404 || err.status === 401 || err.status === 403)) return fail(err);
        }
        if (!finished) connect();
      }, delay);
    };
    const connect = () => {
      eventsThisConnection = 0;
      opts.onConnection?.('connecting');
      const conn = this.transport(
        { baseUrl: this.baseUrl, token: this.token, sessionId, since: lastSeq },
        {
          opened: () => {
            attempt = 0;
            opts.onConnection?.('open');
          },
          event: (ev) => {
            if (finished || closeConn !== conn || ev.seq <= lastSeq) return; // replayed around a reconnect
            if (ev.seq !== lastSeq + 1) return reconnect(`missed events after ${lastSeq}`);
            lastSeq = ev.seq;
            eventsThisConnection++;
            opts.onEvent?.(ev);
            if (TERMINAL_EVENT_TYPES.includes(ev.type)) {
              stop();
              resolve(ev);
            }
          },
          dropped: (detail, retrying) => {
            if (finished || closeConn !== conn) return;
            if (retrying) opts.onConnection?.('reconnecting', detail);
            else reconnect(detail);
          },
          fatal: (status, code, message) => {
            if (closeConn === conn) fail(new ApiError(status, code, message));
          },
        },
      );
      closeConn = conn;
    };
    opts.signal?.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
    connect();
    return {
      done,
      get lastSeq() {
        return lastSeq;
      },
      close: () => {
        if (finished) return;
        stop();
        reject(new Error('closed'));
      },
    };
  }

  /**
   * Follows the session until it ends and returns its results; a `failed` or `cancelled` session
   * rejects with SessionEndedError.
   */
  async waitForResults<R extends AnalysisResult = AnalysisResult>(sessionId: string, opts: Omit<FollowOptions, 'since'> = {}): Promise<R> {
    const following = this.follow(sessionId, opts);
    following.done.catch(() => {});
    const end = await following.done;
    if (end.type === 'completed') {
      const url = typeof end.data.results_url === 'string' ? end.data.results_url : `${API}/results/${encodeURIComponent(sessionId)}`;
      return (await this.request<ResultsResponse<R>>('GET', url)).results;
    }
    const error = (end.data.error as { code: string; message: string } | undefined) ?? null;
    throw new SessionEndedError(sessionId, end.type === 'failed' ? 'failed' : 'cancelled', error);
  }
}
