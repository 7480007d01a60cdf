// Route registration: reads the request, checks auth, runs the handler, maps thrown errors to
// the endpoint family's error shape, and records metrics.
import type { TemplatedApp } from 'uWebSockets.js';
import type { Ctx } from './http.js';
import { HttpError, afterBody, makeCtx, sendDetail, sendError } from './http.js';
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
  ) {}

  add(method: Method, pattern: string, name: string, handler: Handler, opts: RouteOptions = {}): this {
    const paramCount = (pattern.match(/\/:/g) ?? []).length;
    const errors = opts.errors ?? 'v1';
    const auth = opts.auth ?? true;
    this.app[method](pattern, (res, req) => {
      const ctx = makeCtx(res, req, paramCount);
      ctx.onSent = (c) => this.metrics.request(name, c.method, c.status, (performance.now() - c.startedAt) / 1000);
      const fail = (err: unknown) => {
        const httpErr =
          err instanceof HttpError ? err : new HttpError(500, 'internal', `Internal error: ${(err as Error)?.message ?? String(err)}`);
        if (!(err instanceof HttpError)) console.error(`[${name}]`, err);
        const reply = (close: boolean) => (errors === 'legacy' ? sendDetail : sendError)(ctx, httpErr, { close });
        if ((err as { early?: boolean })?.early) afterBody(ctx, reply);
        else reply(false);
      };
      if (auth && !this.authorize(ctx, auth === 'query')) {
        const err = new HttpError(401, 'unauthorized', 'Missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
        // A request body we will not read: close the connection after answering.
        fail(Object.assign(err, { early: ctx.method !== 'GET' && ctx.method !== 'HEAD' }));
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
