// Resumable uploads: tus 1.0.0 at /api/v1/video/uploads, with the extensions creation,
// creation-with-upload, termination, expiration and checksum (sha1, sha256, md5). One handler
// per method (options, post, head, patch, delete) around the shared lookup and lock of
// uploads.ts; this file adds what every method does: auth, Tus-Resumable, and the tus headers on
// every answer, errors included (the router adds the CORS headers, as for every route). Open uploads are limited (MAX_OPEN_UPLOADS).
import type { VideoService } from '../../../streams/service.js';
import { makeAuth } from '../../auth.js';
import type { Config } from '../../config.js';
import { toHttpError } from '../../errors.js';
import { HttpError } from '../../http.js';
import type { Handler, Router } from '../../router.js';
import type { TusContext } from './context.js';
import { deleteHandler } from './delete.js';
import { headHandler } from './head.js';
import { optionsHandler } from './options.js';
import { patchHandler } from './patch.js';
import { postHandler } from './post.js';
import { TUS_VERSION } from './protocol.js';
import { TusUploads } from './uploads.js';

export interface TusOptions {
  /** How long an unfinished upload lives after its last activity (default: the session TTL). */
  expiryMs?: number;
  /** Minimum interval between `upload` events during a PATCH (the last one is always sent). */
  progressIntervalMs?: number;
}

export function registerTus(router: Router, service: VideoService, config: Config, opts: TusOptions = {}): void {
  const base = '/api/v1/video/uploads';
  const authorize = makeAuth(config.apiToken);
  const t: TusContext = {
    service,
    config,
    base,
    uploads: new TusUploads(service, { expiryMs: opts.expiryMs ?? config.sessionTtlMs, progressIntervalMs: opts.progressIntervalMs ?? 250 }),
    headers: () => ({ 'Tus-Resumable': TUS_VERSION }),
  };

  /** Auth and Tus-Resumable first; errors get the tus headers (unknown ones go to the router's log). */
  const tus = (handler: Handler, { preflight = false } = {}): Handler => {
    return async (ctx) => {
      try {
        if (!preflight && !authorize(ctx, false)) {
          throw new HttpError(401, 'unauthorized', 'Missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
        }
        if (!preflight && ctx.headers['tus-resumable'] !== TUS_VERSION) {
          throw new HttpError(412, 'unsupported_version', `Tus-Resumable ${TUS_VERSION} is required`, { 'Tus-Version': TUS_VERSION });
        }
        await handler(ctx);
      } catch (e) {
        const err = toHttpError(e);
        if (err.status === 500 && err.code === 'internal') throw e;
        throw new HttpError(err.status, err.code, err.message, { ...t.headers(ctx), ...err.headers });
      }
    };
  };

  const options = optionsHandler(t);
  const post = postHandler(t);
  const head = headHandler(t);
  const patch = patchHandler(t);
  const del = deleteHandler(t);
  /** tus clients behind proxies that drop PATCH/DELETE send POST with X-HTTP-Method-Override. */
  const override: Handler = (ctx) => {
    const m = (ctx.headers['x-http-method-override'] ?? '').toUpperCase();
    if (m === 'PATCH') return patch(ctx);
    if (m === 'DELETE') return del(ctx);
    if (m === 'HEAD') return head(ctx);
    throw new HttpError(405, 'method_not_allowed', 'POST an upload to the collection; use PATCH, HEAD or DELETE on an upload', {
      Allow: 'HEAD, PATCH, DELETE, POST, OPTIONS',
    });
  };

  router.add('options', base, 'tus_options', tus(options, { preflight: true }), { auth: false });
  router.add('options', `${base}/:id`, 'tus_options', tus(options, { preflight: true }), { auth: false });
  router.add('post', base, 'tus_create', tus(post), { auth: false, body: true });
  router.add('head', `${base}/:id`, 'tus_head', tus(head), { auth: false });
  router.add('patch', `${base}/:id`, 'tus_patch', tus(patch), { auth: false, body: true });
  router.add('del', `${base}/:id`, 'tus_terminate', tus(del), { auth: false });
  router.add('post', `${base}/:id`, 'tus_override', tus(override), { auth: false, body: true });
}
