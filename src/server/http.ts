// Small helpers over uWebSockets.js responses. uWS rules they encode: read everything from the
// request before the first await (it is gone afterwards), attach onAborted before any async
// work (uWS terminates the process otherwise), cork writes made outside the handler's first
// synchronous part, and never touch a response after it was aborted or ended.
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

/** A client's X-Request-Id is kept when it is short and printable; otherwise one is made. */
const REQUEST_ID_RE = /^[\w.:@\/+=-]{1,128}$/;

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 423: 'Locked',
  460: 'Checksum Mismatch', 500: 'Internal Server Error', 503: 'Service Unavailable', 507: 'Insufficient Storage',
};

/** An error with the HTTP status and the v1 error code it maps to. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Everything a handler may need from the request, read synchronously. */
export interface Ctx {
  res: HttpResponse;
  method: string;
  url: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  params: string[];
  aborted: boolean;
  done: boolean;
  startedAt: number;
  /** Set by handlers that need to clean up when the client goes away. */
  onAbort: (() => void) | null;
  /** Status of the response sent, for metrics. */
  status: number;
  /** Called once when a response has been sent (metrics). */
  onSent: ((ctx: Ctx) => void) | null;
  /** Whether a body reader (res.onData) is attached, and whether it saw the last chunk. */
  bodyReader: boolean;
  bodyEnded: boolean;
  /** Called by a body reader after the last chunk. */
  onBodyEnd: (() => void) | null;
  /** The socket is paused until the body's consumer catches up (pipeBody). */
  bodyPaused: boolean;
  /** The rest of the body is read and dropped (discardBody). */
  bodyDiscarded: boolean;
  /** Two Content-Length headers that disagree: the body's framing is ambiguous (answered 400). */
  conflictingLength: boolean;
  /** X-Request-Id: the client's, or a new one; sent back on the response and in the logs. */
  requestId: string;
  /** A stream that stays open (SSE): not a request duration. */
  longLived: boolean;
  /** Told the size of every request body chunk piped to a sink (metrics). */
  onIngest: ((bytes: number) => void) | null;
  /** Headers every answer to this request carries (CORS), set by the router. */
  responseHeaders: Record<string, string>;
  /** The body kept until its reader is attached (holdBody), if any. */
  bodyHold: BodyHold | null;
}

export function makeCtx(res: HttpResponse, req: HttpRequest, paramCount: number): Ctx {
  const headers: Record<string, string> = {};
  let conflictingLength = false;
  req.forEach((k, v) => {
    if (k === 'content-length' && headers[k] !== undefined && headers[k].trim() !== v.trim()) conflictingLength = true;
    headers[k] = v;
  });
  const params: string[] = [];
  for (let i = 0; i < paramCount; i++) params.push(req.getParameter(i) ?? '');
  const ctx: Ctx = {
    res,
    method: req.getCaseSensitiveMethod ? req.getCaseSensitiveMethod() : req.getMethod().toUpperCase(),
    url: req.getUrl(),
    query: new URLSearchParams(req.getQuery() ?? ''),
    headers,
    params,
    aborted: false,
    done: false,
    startedAt: performance.now(),
    onAbort: null,
    status: 0,
    onSent: null,
    bodyReader: false,
    bodyEnded: false,
    onBodyEnd: null,
    bodyPaused: false,
    bodyDiscarded: false,
    conflictingLength,
    requestId: REQUEST_ID_RE.test(headers['x-request-id'] ?? '') ? headers['x-request-id'] : randomUUID(),
    longLived: false,
    onIngest: null,
    responseHeaders: {},
    bodyHold: null,
  };
  res.onAborted(() => {
    ctx.aborted = true;
    ctx.onAbort?.();
  });
  return ctx;
}

/** Present at runtime, missing from this build's typings. */
type EndWithoutBody = { endWithoutBody(): void };

export interface SendOptions {
  headers?: Record<string, string>;
  /** Close the connection after this response (used when the request body is not read). */
  close?: boolean;
}

/** Sends a complete response once; later calls and calls after an abort are ignored. */
/**
 * Writes the status line and the headers every answer carries (X-Request-Id, the router's CORS
 * headers), then `headers`. Call inside res.cork(). send(), SSE streams and file answers use it.
 */
export function writeHead(ctx: Ctx, status: number, headers: Record<string, string> = {}): void {
  ctx.res.writeStatus(`${status} ${STATUS_TEXT[status] ?? ''}`);
  ctx.res.writeHeader('X-Request-Id', ctx.requestId);
  for (const [k, v] of Object.entries({ ...ctx.responseHeaders, ...headers })) ctx.res.writeHeader(k, v);
}

export function send(ctx: Ctx, status: number, body: string | Buffer, contentType: string | null, opts: SendOptions = {}): void {
  if (ctx.aborted || ctx.done) return;
  ctx.done = true;
  ctx.status = status;
  ctx.res.cork(() => {
    writeHead(ctx, status, contentType ? { 'Content-Type': contentType, ...opts.headers } : opts.headers);
    // A HEAD answer has the GET answer's headers and never a body (error answers included).
    // (This build's endWithoutBody(length) never completes the response: the length is set
    // here, and endWithoutBody takes no argument. HEAD requests have no body to close over.)
    if (ctx.method === 'HEAD') {
      ctx.res.writeHeader('Content-Length', String(Buffer.byteLength(body)));
      (ctx.res as unknown as EndWithoutBody).endWithoutBody();
    } else ctx.res.end(body, opts.close ?? false);
  });
  ctx.onSent?.(ctx);
}

export const JSON_TYPE = 'application/json; charset=utf-8';

export function sendJson(ctx: Ctx, status: number, value: unknown, opts: SendOptions = {}): void {
  send(ctx, status, JSON.stringify(value), JSON_TYPE, opts);
}

/** v1 error shape. */
export function sendError(ctx: Ctx, err: HttpError, opts: SendOptions = {}): void {
  sendJson(ctx, err.status, { error: { code: err.code, message: err.message } }, { ...opts, headers: { ...err.headers, ...opts.headers } });
}

/** Legacy error shape. */
export function sendDetail(ctx: Ctx, err: HttpError, opts: SendOptions = {}): void {
  sendJson(ctx, err.status, { detail: err.message }, { ...opts, headers: { ...err.headers, ...opts.headers } });
}

/**
 * Attaches the request body reader. Every body goes through here so that afterBody() knows
 * whether the last chunk has been seen. A body held by holdBody() is handed over: the chunks
 * kept so far first, then the live ones.
 */
export function readBody(ctx: Ctx, onChunk: (chunk: ArrayBuffer, isLast: boolean) => void): void {
  const hold = ctx.bodyHold;
  if (hold) {
    ctx.bodyHold = null;
    hold.consumer = onChunk;
    for (const { chunk, isLast } of hold.kept.splice(0)) if (!ctx.bodyDiscarded) onChunk(chunk, isLast);
    if (hold.paused) {
      hold.paused = false;
      if (!ctx.bodyPaused && !ctx.aborted && !ctx.done) ctx.res.resume();
    }
    return;
  }
  ctx.bodyReader = true;
  ctx.res.onData((chunk, isLast) => {
    if (isLast) {
      ctx.bodyEnded = true;
      ctx.onBodyEnd?.();
    }
    if (!ctx.bodyDiscarded) onChunk(chunk, isLast);
  });
}

/** A body received before its consumer was attached (see holdBody). */
export interface BodyHold {
  kept: Array<{ chunk: ArrayBuffer; isLast: boolean }>;
  keptBytes: number;
  paused: boolean;
  consumer: ((chunk: ArrayBuffer, isLast: boolean) => void) | null;
}

/** Bytes holdBody keeps before it pauses the socket. */
const HOLD_BYTES = 256 * 1024;

/**
 * uWS drops body bytes that arrive while no reader is attached, and a handler that awaits
 * (a shared store's lookup, a lock) before reading would lose them: this attaches the reader
 * at once and keeps what arrives (pausing the socket past HOLD_BYTES) until readBody() takes over.
 */
export function holdBody(ctx: Ctx): void {
  const hold: BodyHold = { kept: [], keptBytes: 0, paused: false, consumer: null };
  ctx.bodyHold = hold;
  ctx.bodyReader = true;
  ctx.res.onData((chunk, isLast) => {
    if (isLast) {
      ctx.bodyEnded = true;
      ctx.onBodyEnd?.();
    }
    if (ctx.bodyDiscarded) return;
    if (hold.consumer) return hold.consumer(chunk, isLast);
    hold.kept.push({ chunk: chunk.slice(0), isLast }); // uWS reuses the chunk's memory
    hold.keptBytes += chunk.byteLength;
    if (hold.keptBytes > HOLD_BYTES && !hold.paused && !isLast) {
      hold.paused = true;
      ctx.res.pause();
    }
  });
}

/** Where pipeBody sends a request body. */
export interface BodySink {
  /** Takes a chunk (a copy the sink may keep); false asks to pause the socket until onDrain calls back. */
  write(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
  /** The last chunk was written. */
  end(): void;
}

/**
 * Streams the request body into `sink` with backpressure: the socket is paused while the sink
 * is full (once: one resume callback at a time) and resumed when it drains. This is the one
 * place a body's lifetime is handled; consumers stop it with discardBody().
 */
export function pipeBody(ctx: Ctx, sink: BodySink): void {
  readBody(ctx, (chunk, isLast) => {
    ctx.onIngest?.(chunk.byteLength);
    // uWS reuses the chunk's memory after this callback: copy it.
    if (chunk.byteLength > 0 && !sink.write(Buffer.from(chunk.slice(0))) && !isLast && !ctx.bodyPaused) {
      ctx.bodyPaused = true;
      ctx.res.pause();
      sink.onDrain(() => resumeBody(ctx));
    }
    if (isLast) {
      sink.end();
      // Nothing more of this body will come, and a sink that asked for a pause may never call back
      // (an ended Writable emits no 'drain'): a socket left paused would not read the next request
      // on the connection, and uWS's timeout would later close it under that request (a reset).
      // This happens when holdBody handed over several chunks, the last among them, at once.
      resumeBody(ctx);
    }
  });
}

function resumeBody(ctx: Ctx): void {
  if (!ctx.bodyPaused) return;
  ctx.bodyPaused = false;
  if (!ctx.aborted && !ctx.done) ctx.res.resume();
}

/** From now on the rest of the body is read and dropped (a consumer that gave up on it). */
export function discardBody(ctx: Ctx): void {
  ctx.bodyDiscarded = true;
  const hold = ctx.bodyHold;
  if (hold) {
    hold.kept = [];
    if (hold.paused) {
      hold.paused = false;
      if (!ctx.aborted && !ctx.done) ctx.res.resume();
    }
  }
  resumeBody(ctx);
}

/** How long the rest of a request body is read and discarded before an early answer goes out anyway. */
export const DRAIN_WAIT_MS = 2000;

/**
 * Runs `answer` once the request body has been received: a server that closes a connection
 * with unread bytes makes the kernel send a reset, which can destroy the answer before the client
 * reads it. The rest of the body is read and discarded for up to DRAIN_WAIT_MS; a client still
 * sending then (a large or stalled body) gets the answer with the connection closed.
 */
export function afterBody(ctx: Ctx, answer: (close: boolean) => void): void {
  const declared = Number(ctx.headers['content-length'] ?? (ctx.headers['transfer-encoding'] ? NaN : 0));
  if (ctx.bodyEnded || declared === 0) return answer(false);
  const timer = setTimeout(() => {
    ctx.onBodyEnd = null;
    answer(true);
  }, DRAIN_WAIT_MS);
  ctx.onBodyEnd = () => {
    clearTimeout(timer);
    answer(false);
  };
  if (ctx.bodyReader) discardBody(ctx);
  else {
    ctx.bodyDiscarded = true;
    readBody(ctx, () => {});
  }
}
