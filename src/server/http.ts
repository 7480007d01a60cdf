// Small helpers over uWebSockets.js responses. uWS rules they encode: read everything from the
// request before the first await (it is gone afterwards), attach onAborted before any async
// work (uWS terminates the process otherwise), cork writes made outside the handler's first
// synchronous part, and never touch a response after it was aborted or ended.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 423: 'Locked',
  460: 'Checksum Mismatch', 500: 'Internal Server Error', 503: 'Service Unavailable',
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
}

export function makeCtx(res: HttpResponse, req: HttpRequest, paramCount: number): Ctx {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => {
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
  };
  res.onAborted(() => {
    ctx.aborted = true;
    ctx.onAbort?.();
  });
  return ctx;
}

export interface SendOptions {
  headers?: Record<string, string>;
  /** Close the connection after this response (used when the request body is not read). */
  close?: boolean;
}

/** Sends a complete response once; later calls and calls after an abort are ignored. */
export function send(ctx: Ctx, status: number, body: string | Buffer, contentType: string | null, opts: SendOptions = {}): void {
  if (ctx.aborted || ctx.done) return;
  ctx.done = true;
  ctx.status = status;
  ctx.res.cork(() => {
    ctx.res.writeStatus(`${status} ${STATUS_TEXT[status] ?? ''}`);
    if (contentType) ctx.res.writeHeader('Content-Type', contentType);
    for (const [k, v] of Object.entries(opts.headers ?? {})) ctx.res.writeHeader(k, v);
    ctx.res.end(body, opts.close ?? false);
  });
  ctx.onSent?.(ctx);
}

export function sendJson(ctx: Ctx, status: number, value: unknown, opts: SendOptions = {}): void {
  send(ctx, status, JSON.stringify(value), 'application/json; charset=utf-8', opts);
}

/** v1 error shape. */
export function sendError(ctx: Ctx, err: HttpError, opts: SendOptions = {}): void {
  sendJson(ctx, err.status, { error: { code: err.code, message: err.message } }, { ...opts, headers: { ...err.headers, ...opts.headers } });
}

/** Legacy error shape. */
export function sendDetail(ctx: Ctx, err: HttpError, opts: SendOptions = {}): void {
  sendJson(ctx, err.status, { detail: err.message }, { ...opts, headers: { ...err.headers, ...opts.headers } });
}
