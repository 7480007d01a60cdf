// Route registration: reads the request, checks auth, runs the handler, maps thrown errors to
// the endpoint family's error shape, and records metrics.
import type { TemplatedApp } from 'uWebSockets.js';
import type { Ctx } from './http.js';
import { isDomainError, toHttpError } from './errors.js';
import { HttpError, afterBody, makeCtx, sendDetail, sendError } from './http.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export type Handler = (ctx: Ctx) => void | Promise<void>;

export interface RouteOptions {
  /** Error body shape: v1 `{"error":{…}}` or legacy `{"detail":…}`. */
  errors?: 'v1' | 'legacy';
  /** false: open (health); 'query': a ?token= is accepted too (SSE). */
  auth?: boolean | 'query';
}

export type Method = 'get' | 'post' | 'del' | 'patch' | 'head' | 'options' | 'any';

export class Router {
  constructor(
    private readonly app: TemplatedApp,
    private readonly metrics: Metrics,
    private readonly authorize: (ctx: Ctx, allowQueryToken: boolean) => boolean,
    private readonly log: Logger,
  ) {}

  add(method: Method, pattern: string, name: string, handler: Handler, opts: RouteOptions = {}): this {
    const paramCount = (pattern.match(/\/:/g) ?? []).length;
    const errors = opts.errors ?? 'v1';
    const auth = opts.auth ?? true;
    this.app[method](pattern, (res, req) => {
      const ctx = makeCtx(res, req, paramCount);
      ctx.onIngest = (n) => this.metrics.ingest(n);
      ctx.onSent = (c) => {
        const ms = performance.now() - c.startedAt;
        this.metrics.request(name, c.method, c.status, c.longLived ? null : ms / 1000);
        // one line per request; a stream's line is written when it opens
        this.log.info(
          { reqId: c.requestId, method: c.method, route: name, url: c.url, status: c.status, durationMs: Math.round(ms * 10) / 10, ...(c.longLived ? { stream: true } : {}) },
          'request',
        );
      };
      // Errors are answered once the request body is in (small bodies) or with the connection
      // closed (large ones), so the client reads the answer rather than a reset.
      const fail = (err: unknown) => {
        if (ctx.aborted || ctx.done) return;
        if (!isDomainError(err)) this.log.error({ err, reqId: ctx.requestId, route: name }, 'request failed with an internal error');
        const httpErr = toHttpError(err);
        afterBody(ctx, (close) => (errors === 'legacy' ? sendDetail : sendError)(ctx, httpErr, { close }));
      };
      if (ctx.conflictingLength) {
        // Which length frames the body is ambiguous (request smuggling): never read it.
        const err = new HttpError(400, 'bad_request', 'The request has conflicting Content-Length headers');
        (errors === 'legacy' ? sendDetail : sendError)(ctx, err, { close: true });
        return;
      }
      if (auth && !this.authorize(ctx, auth === 'query')) {
        fail(new HttpError(401, 'unauthorized', 'Missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' }));
        return;
      }
      try {
        const r = handler(ctx);
        if (r) r.catch(fail);
      } catch (err) {
        fail(err);
      }
    });
    return this;
  }
}
