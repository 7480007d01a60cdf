// Route registration: reads the request, checks the Origin and auth, runs the handler, maps
// thrown errors to the endpoint family's error shape, and records metrics. It also knows every
// path's methods, so each known path answers CORS preflights (OPTIONS) and a wrong method with
// 405 and Allow (finish()).
import type { TemplatedApp } from 'uWebSockets.js';
import type { Ctx } from './http.js';
import { corsHeaders, preflightHeaders, type OriginPolicy } from './cors.js';
import { isDomainError, toHttpError } from './errors.js';
import { HttpError, afterBody, holdBody, makeCtx, send, sendDetail, sendError } from './http.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export type Handler = (ctx: Ctx) => void | Promise<void>;

export interface RouteOptions {
  /** Error body shape: v1 `{"error":{…}}` or legacy `{"detail":…}`. */
  errors?: 'v1' | 'legacy';
  /** false: open (health); 'query': a ?token= is accepted too (SSE). */
  auth?: boolean | 'query';
  /** The handler reads the request body after awaiting something: keep the body until it does (holdBody). */
  body?: boolean;
}

export type Method = 'get' | 'post' | 'del' | 'patch' | 'head' | 'options' | 'any';

const HTTP_METHOD: Record<Exclude<Method, 'any'>, string> = { get: 'GET', post: 'POST', del: 'DELETE', patch: 'PATCH', head: 'HEAD', options: 'OPTIONS' };

export class Router {
  /** Pattern → the HTTP methods registered on it, and its error shape. */
  private readonly paths = new Map<string, { methods: Set<string>; errors: 'v1' | 'legacy' }>();

  constructor(
    private readonly app: TemplatedApp,
    private readonly metrics: Metrics,
    private readonly authorize: (ctx: Ctx, allowQueryToken: boolean) => boolean,
    private readonly originAllowed: OriginPolicy,
    private readonly log: Logger,
  ) {}

  add(method: Method, pattern: string, name: string, handler: Handler, opts: RouteOptions = {}): this {
    const paramCount = (pattern.match(/\/:/g) ?? []).length;
    const errors = opts.errors ?? 'v1';
    const auth = opts.auth ?? true;
    if (method !== 'any') {
      const known = this.paths.get(pattern) ?? { methods: new Set<string>(), errors };
      known.methods.add(HTTP_METHOD[method]);
      this.paths.set(pattern, known);
    }
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
      const origin = ctx.headers['origin'];
      if (!this.originAllowed(origin, ctx.headers['host'])) {
        // The same answer as the WebSocket upgrade's: a page of another site must not use this
        // service through its visitors' browsers (simple POSTs need no preflight).
        fail(new HttpError(403, 'forbidden', 'This origin may not use the service (see CORS_ORIGINS)', { Vary: 'Origin' }));
        return;
      }
      if (opts.body && hasRequestBody(ctx)) holdBody(ctx);
      ctx.responseHeaders = corsHeaders(origin);
      if (method === 'options') Object.assign(ctx.responseHeaders, preflightHeaders(), { Allow: this.allow(pattern) });
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

  /** Every path and its methods (for the test that they are all documented). */
  known(): Array<{ pattern: string; methods: string[] }> {
    return [...this.paths].map(([pattern, { methods }]) => ({ pattern, methods: [...methods] }));
  }

  /** The Allow header of a known path. */
  private allow(pattern: string): string {
    const methods = new Set(this.paths.get(pattern)?.methods ?? []);
    methods.add('OPTIONS');
    return [...methods].join(', ');
  }

  /**
   * Call after every route is added: each known path answers a CORS preflight (OPTIONS, no
   * token needed: browsers send none) unless it has its own OPTIONS route, and any other
   * method with 405 and Allow.
   */
  finish(): void {
    for (const [pattern, { methods, errors }] of [...this.paths]) {
      if (!methods.has('OPTIONS')) {
        this.add('options', pattern, 'preflight', (ctx) => send(ctx, 204, '', null), { auth: false, errors });
      }
      this.add(
        'any',
        pattern,
        'method_not_allowed',
        (ctx) => {
          const allow = this.allow(pattern);
          throw new HttpError(405, 'method_not_allowed', `${ctx.method} is not allowed here; use ${allow}`, { Allow: allow });
        },
        { auth: false, errors },
      );
    }
  }
}

/** Whether the request says it has a body. */
function hasRequestBody(ctx: Ctx): boolean {
  const cl = ctx.headers['content-length'];
  if (cl !== undefined) return cl.trim() !== '0';
  return ctx.headers['transfer-encoding'] !== undefined;
}
