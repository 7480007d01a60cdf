// REST v1: upload, status, results, cancel, cleanup.
import { EngineError, type AnalysisType } from '../../engine/types.js';
import { parseAnalysisType } from '../../engine/params.js';
import type { SessionStatus } from '../../streams/events.js';
import type { VideoService } from '../../streams/service.js';
import { isSessionId } from '../../streams/store.js';
import type { Config } from '../config.js';
import type { Ctx } from '../http.js';
import { HttpError, JSON_TYPE, send, sendJson } from '../http.js';
import { MULTIPART_MAX_FILE_BYTES, receiveMultipart, type ReceivedFile } from '../multipart.js';
import { API_BASE, sessionLinks } from '../links.js';
import type { Router } from '../router.js';

export const notFound = () => new HttpError(404, 'not_found', 'No such session');

/** Session id from the path, 404 for anything not shaped like one (before any lookup). */
export function sessionParam(ctx: Ctx): string {
  const id = ctx.params[0];
  if (!isSessionId(id)) throw notFound();
  return id;
}

/**
 * Validates fields and probes the received file, then creates and queues its session. The file
 * is deleted on any failure, and nothing is kept if the client went away meanwhile.
 */
export async function admitUpload(
  service: VideoService,
  config: Config,
  ctx: Ctx,
  file: ReceivedFile,
  type: AnalysisType | (() => AnalysisType),
  rawParams: unknown,
  webhookUrl?: string,
) {
  try {
    const analysisType = typeof type === 'function' ? type() : type;
    const params = service.validate(analysisType, rawParams);
    const webhook = service.webhookTarget(webhookUrl, publicBase(config, ctx));
    try {
      await service.probe(file.upload);
    } catch (err) {
      if (err instanceof EngineError) throw new HttpError(415, 'unsupported_media', err.message);
      throw err;
    }
    if (ctx.aborted) throw new HttpError(400, 'aborted', 'Client went away');
    return await service.createFromFile(file.upload, { analysisType, params: { ...params }, filename: file.filename, webhook });
  } catch (err) {
    await file.upload.discard();
    throw err;
  }
}

/** The service's URL as clients reach it: PUBLIC_URL, else the request's Host. */
export function publicBase(config: Config, ctx: Ctx): string {
  return config.publicUrl ?? `http://${ctx.headers.host || `localhost:${config.port}`}`;
}

/**
 * Checks there is room in the queue and on the disk (503 or 507 before reading anything), then
 * receives the multipart body into the upload store.
 */
export async function receiveUpload(service: VideoService, config: Config, ctx: Ctx, fileFields: string[], textFields: string[] | null) {
  await service.assertRoom();
  const declared = Number(ctx.headers['content-length']);
  service.assertSpace(Number.isFinite(declared) ? declared : null);
  return receiveMultipart(ctx, {
    maxFileBytes: Math.min(config.maxUploadBytes, MULTIPART_MAX_FILE_BYTES),
    fileFields,
    textFields,
    receive: () => service.receiveFile(),
  });
}

const STATUSES: readonly SessionStatus[] = ['uploading', 'pending', 'processing', 'completed', 'failed', 'cancelled'];
export const LIST_MAX_LIMIT = 100;
const LIST_DEFAULT_LIMIT = 20;

/** The list's cursor: the last session of a page (its createdAt and id), opaque to clients. */
function encodeCursor(s: { createdAt: string; sessionId: string }): string {
  return Buffer.from(`${s.createdAt}/${s.sessionId}`).toString('base64url');
}

function parseListQuery(q: URLSearchParams): { status?: SessionStatus; limit: number; after?: { createdAt: string; sessionId: string } } {
  const status = q.get('status') || undefined;
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
    throw new HttpError(400, 'bad_request', `status must be one of ${STATUSES.join(', ')}`);
  }
  const rawLimit = q.get('limit');
  const limit = rawLimit === null || rawLimit === '' ? LIST_DEFAULT_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX_LIMIT) {
    throw new HttpError(400, 'bad_request', `limit must be an integer 1-${LIST_MAX_LIMIT}`);
  }
  const cursor = q.get('cursor');
  if (!cursor) return { status: status as SessionStatus | undefined, limit };
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\/([A-Za-z0-9_-]{21})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || Number.isNaN(Date.parse(m[1]))) throw new HttpError(400, 'bad_request', 'cursor is not one this service gave out (use nextCursor as it is)');
  return { status: status as SessionStatus | undefined, limit, after: { createdAt: m[1], sessionId: m[2] } };
}

export function registerV1(router: Router, service: VideoService, config: Config): void {
  const base = API_BASE;

  router.add('post', `${base}/upload`, 'upload', async (ctx) => {
    const { file, fields } = await receiveUpload(service, config, ctx, ['file', 'video'], ['analysis_type', 'params', 'webhook_url']);
    const session = await admitUpload(service, config, ctx, file, () => parseAnalysisType(fields.analysis_type), fields.params, fields.webhook_url);
    const links = sessionLinks(session.id);
    sendJson(ctx, 202, { sessionId: session.id, status: session.state.status, links }, { headers: { Location: links.status } });
  }, { body: true });

  router.add('get', `${base}/sessions`, 'sessions', async (ctx) => {
    const { status, limit, after } = parseListQuery(ctx.query);
    // One more than asked for says whether there is a next page.
    const page = await service.list({ status, after, limit: limit + 1 });
    const more = page.length > limit;
    const sessions = page.slice(0, limit).map((s) => ({ ...s, links: sessionLinks(s.sessionId) }));
    const last = sessions.at(-1);
    sendJson(ctx, 200, { sessions, nextCursor: more && last ? encodeCursor(last) : null });
  });

  router.add('get', `${base}/status/:sessionId`, 'status', async (ctx) => {
    const view = await service.status(sessionParam(ctx));
    if (!view) throw notFound();
    sendJson(ctx, 200, view);
  });

  router.add('get', `${base}/results/:sessionId`, 'results', async (ctx) => {
    const id = sessionParam(ctx);
    const session = await service.get(id);
    if (!session) throw notFound();
    const { status, progress } = session.state;
    const results = status === 'completed' ? await service.resultJson(id) : null;
    if (results === null) {
      sendJson(ctx, 409, {
        error: { code: 'not_ready', message: `Results are not available: the session is ${status}` },
        sessionId: id,
        status,
        progress,
      });
      return;
    }
    // The stored result is embedded as it is: no parse and stringify per request.
    send(ctx, 200, `{"sessionId":${JSON.stringify(id)},"status":"completed","results":${results}}`, JSON_TYPE);
  });

  router.add('post', `${base}/cancel/:sessionId`, 'cancel', async (ctx) => {
    const id = sessionParam(ctx);
    const out = await service.cancel(id);
    if (!out.ok && out.reason === 'not_found') throw notFound();
    if (!out.ok) throw new HttpError(409, 'conflict', `The session is already ${out.session!.state.status}`);
    sendJson(ctx, 200, { sessionId: id, status: 'cancelled' });
  });

  router.add('del', `${base}/cleanup/:sessionId`, 'cleanup', async (ctx) => {
    const id = sessionParam(ctx);
    if (!(await service.cleanup(id))) throw notFound();
    sendJson(ctx, 200, { sessionId: id, message: 'Session cleaned up' });
  });
}
