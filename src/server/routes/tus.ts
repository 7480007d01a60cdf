// Resumable uploads: tus 1.0.0 at /api/v1/video/uploads, with the extensions creation,
// creation-with-upload, termination, expiration and checksum (sha1, sha256, md5).
//
// The upload id is the session id: creation makes an `uploading` session whose video file is
// written in place through the service's upload store. The offset is the length of that file,
// kept in memory while the process runs and re-read from disk for uploads restored after a
// restart; between requests an upload holds no open file. PATCH bodies stream to disk with
// backpressure (the socket is paused while the file catches up); a request that breaks off, or
// that hits a disk error, keeps what reached the disk, so the client resumes at the offset HEAD
// reports — except with Upload-Checksum, where a body that cannot be verified is discarded.
// One PATCH at a time per upload: a second one gets 423 (tus clients retry after a HEAD).
// Open uploads are limited (MAX_OPEN_UPLOADS), and an upload that completes while the queue is
// full has its last request refused with 503 (its bytes are dropped; the client sends them again).
import { createHash, type Hash } from 'node:crypto';
import type { AnalysisType } from '../../engine/types.js';
import { parseAnalysisType } from '../../engine/params.js';
import { QueueFullError, type VideoService } from '../../streams/service.js';
import type { Session } from '../../streams/session.js';
import { isSessionId } from '../../streams/store.js';
import { makeAuth } from '../auth.js';
import type { Config } from '../config.js';
import { makeOriginPolicy } from '../cors.js';
import { toHttpError } from '../errors.js';
import type { Ctx } from '../http.js';
import { HttpError, pipeBody, send, sendJson } from '../http.js';
import { sanitizeFilename } from '../multipart.js';
import type { Handler, Router } from '../router.js';

export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = 'creation,creation-with-upload,termination,expiration,checksum';
export const TUS_CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'] as const;
const OCTET = 'application/offset+octet-stream';

const ALLOW_HEADERS = [
  'Authorization', 'Content-Type', 'Origin', 'X-Requested-With', 'X-HTTP-Method-Override',
  'Tus-Resumable', 'Upload-Length', 'Upload-Offset', 'Upload-Metadata', 'Upload-Checksum',
  'Upload-Defer-Length', 'Upload-Concat',
].join(', ');
const EXPOSE_HEADERS = [
  'Location', 'Upload-Offset', 'Upload-Length', 'Upload-Expires', 'Upload-Metadata',
  'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Checksum-Algorithm', 'Retry-After',
].join(', ');

export interface TusOptions {
  /** How long an unfinished upload lives after its last activity (default: the session TTL). */
  expiryMs?: number;
  /** Minimum interval between `upload` events during a PATCH (the last one is always sent). */
  progressIntervalMs?: number;
}

/** What the route keeps about an unfinished upload while the process runs. */
interface UploadState {
  session: Session;
  /** Bytes durably in the file (the tus offset). */
  offset: number;
  length: number;
  /** The PATCH (or creation-with-upload) now writing, if any. */
  active: { cancel(): void } | null;
  lastEventAt: number;
}

/** Parses `key base64,key2 base64,key3` (values optional). */
export function parseUploadMetadata(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw || !raw.trim()) return out;
  for (const pair of raw.split(',')) {
    const [key, value, extra] = pair.trim().split(/\s+/);
    if (!key || extra !== undefined || !/^[\x21-\x7e]+$/.test(key) || key.includes(',')) {
      throw new HttpError(400, 'bad_request', 'Malformed Upload-Metadata: expected "key base64value" pairs separated by commas');
    }
    if (key in out) throw new HttpError(400, 'bad_request', `Upload-Metadata has the key "${key}" twice`);
    if (value === undefined) {
      out[key] = '';
      continue;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
      throw new HttpError(400, 'bad_request', `Upload-Metadata value of "${key}" is not base64`);
    }
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

/** A non-negative integer header, or null when absent; 400 when malformed. */
function intHeader(ctx: Ctx, name: string): number | null {
  const raw = ctx.headers[name.toLowerCase()];
  if (raw === undefined) return null;
  if (!/^\d{1,16}$/.test(raw.trim())) throw new HttpError(400, 'bad_request', `${name} must be a non-negative integer`);
  return Number(raw.trim());
}

function parseChecksum(raw: string | undefined): { algorithm: string; digest: Buffer } | null {
  if (raw === undefined) return null;
  const m = /^\s*([A-Za-z0-9-]+)\s+([A-Za-z0-9+/]+={0,2})\s*$/.exec(raw);
  if (!m) throw new HttpError(400, 'bad_request', 'Malformed Upload-Checksum: expected "<algorithm> <base64 digest>"');
  const algorithm = m[1].toLowerCase();
  if (!(TUS_CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new HttpError(400, 'bad_request', `Unsupported checksum algorithm "${m[1]}"; use one of ${TUS_CHECKSUM_ALGORITHMS.join(', ')}`);
  }
  return { algorithm, digest: Buffer.from(m[2], 'base64') };
}

/** Does the request carry a body we have not read (then an error answer closes the connection)? */
function hasBody(ctx: Ctx): boolean {
  const cl = ctx.headers['content-length'];
  if (cl !== undefined) return cl.trim() !== '0';
  return ctx.headers['transfer-encoding'] !== undefined;
}

export function registerTus(router: Router, service: VideoService, config: Config, opts: TusOptions = {}): void {
  const base = '/api/v1/video/uploads';
  const expiryMs = opts.expiryMs ?? config.sessionTtlMs;
  const progressIntervalMs = opts.progressIntervalMs ?? 250;
  const authorize = makeAuth(config.apiToken);
  const uploads = new Map<string, UploadState>();
  /** Ids of uploads that expired or were terminated here: 410 rather than 404 (bounded). */
  const gone = new Set<string>();
  const markGone = (id: string) => {
    gone.add(id);
    if (gone.size > 10_000) gone.delete(gone.values().next().value!);
  };

  const originAllowed = makeOriginPolicy(config);
  /** tus headers, and the CORS ones for an allowed browser origin. */
  const corsHeaders = (ctx: Ctx): Record<string, string> => {
    const origin = ctx.headers['origin'];
    const headers: Record<string, string> = { 'Tus-Resumable': TUS_VERSION, Vary: 'Origin' };
    if (origin !== undefined && originAllowed(origin, ctx.headers['host'])) {
      headers['Access-Control-Allow-Origin'] = origin;
      headers['Access-Control-Expose-Headers'] = EXPOSE_HEADERS;
    }
    return headers;
  };

  const expiresAt = (s: Session) => Date.parse(s.state.updatedAt) + expiryMs;
  const expiresHeader = (s: Session) => ({ 'Upload-Expires': new Date(expiresAt(s)).toUTCString() });

  /** Upload state of an unfinished upload, created lazily (e.g. for uploads restored after a restart). */
  const stateOf = (session: Session): UploadState => {
    let up = uploads.get(session.id);
    if (!up) {
      up = { session, offset: service.uploadOffset(session), length: session.meta.uploadLength ?? 0, active: null, lastEventAt: 0 };
      uploads.set(session.id, up);
    }
    return up;
  };

  /** Whether the session went past its upload (queued, analysed, or failed at the final probe). */
  const uploadComplete = (session: Session) =>
    session.history().some((e) => e.type === 'status' && e.data.status === 'pending') ||
    (session.state.status === 'failed' && session.state.error?.code === 'unsupported_media' && session.meta.uploadLength != null);

  type Lookup = { kind: 'open'; up: UploadState } | { kind: 'complete'; session: Session };

  /** Finds the upload of the path's id: 404 unknown, 410 expired or terminated. */
  const lookup = (ctx: Ctx): Lookup => {
    const id = ctx.params[0];
    if (!isSessionId(id)) throw new HttpError(404, 'not_found', 'No such upload');
    const session = service.get(id);
    if (!session) {
      if (gone.has(id)) throw new HttpError(410, 'gone', 'The upload expired or was terminated');
      throw new HttpError(404, 'not_found', 'No such upload');
    }
    if (session.meta.uploadLength == null) throw new HttpError(404, 'not_found', 'This session was not created by a resumable upload');
    if (session.state.status === 'uploading') {
      const up = stateOf(session);
      if (!up.active && Date.now() > expiresAt(session)) {
        expire(session);
        throw new HttpError(410, 'gone', 'The upload expired');
      }
      return { kind: 'open', up };
    }
    if (uploadComplete(session)) return { kind: 'complete', session };
    throw new HttpError(410, 'gone', `The upload was ${session.state.status === 'cancelled' ? 'cancelled' : 'abandoned'}`);
  };

  const expire = (session: Session) => {
    uploads.delete(session.id);
    markGone(session.id);
    service.cleanup(session.id);
  };

  const emitProgress = (up: UploadState, received: number, force: boolean) => {
    const now = performance.now();
    if (!force && now - up.lastEventAt < progressIntervalMs) return;
    up.lastEventAt = now;
    service.uploadProgress(up.session, received, up.length);
  };

  /**
   * Streams the request body to the upload's file at its offset. Resolves once the body is on
   * disk (checksum verified) and the offset moved; rejects with the error to answer. If the
   * client goes away, the bytes written so far count (unless a checksum was asked for) and the
   * promise resolves with `aborted`.
   */
  const receive = (ctx: Ctx, up: UploadState, checksum: { algorithm: string; digest: Buffer } | null): Promise<{ aborted: boolean }> =>
    new Promise((resolve, reject) => {
      const start = up.offset;
      const writer = service.appendUpload(up.session, start);
      const hash: Hash | null = checksum ? createHash(checksum.algorithm) : null;
      let received = 0;
      let settled = false;
      let failure: unknown = null;
      let aborted = false;

      /** Closes the file, then keeps or discards this request's bytes and releases the lock. */
      const settle = (keep: boolean) => {
        if (settled) return;
        settled = true;
        ctx.onAbort = null;
        (keep ? writer.finish() : writer.abort()).then(
          () => done(keep),
          (err) => {
            failure ??= err; // a disk error: what reached the disk still counts, unless it must be verified
            done(!checksum);
          },
        );
      };
      const done = (keep: boolean) => {
        up.active = null;
        if (keep) up.offset = start + writer.written;
        else {
          try {
            service.truncateUpload(up.session, start);
          } catch (err) {
            failure ??= err;
            uploads.delete(up.session.id); // the offset is read from the disk again next time
          }
        }
        if (service.get(up.session.id) === up.session) emitProgress(up, up.offset, true);
        if (failure) reject(failure);
        else resolve({ aborted });
      };

      up.active = {
        // Terminated meanwhile: this request is answered 410 (the rest of its body is not stored).
        cancel: () => {
          failure = new HttpError(410, 'gone', 'The upload was terminated');
          settle(false);
        },
      };
      ctx.onAbort = () => {
        aborted = true;
        settle(!checksum);
      };
      writer.onError(() => settle(true));

      if (!hasBody(ctx)) {
        settle(true);
        return;
      }
      pipeBody(ctx, {
        write: (buf) => {
          if (settled) return true;
          if (start + received + buf.length > up.length) {
            failure = new HttpError(413, 'too_large', `The body goes past the declared Upload-Length of ${up.length} bytes`);
            settle(false);
            return true;
          }
          received += buf.length;
          hash?.update(buf);
          emitProgress(up, start + received, false);
          return writer.write(buf);
        },
        onDrain: (resume) => writer.onceDrain(resume),
        end: () => {
          if (settled) return;
          if (hash && !hash.digest().equals(checksum!.digest)) {
            failure = new HttpError(460, 'checksum_mismatch', `The ${checksum!.algorithm} checksum of the body does not match Upload-Checksum`);
            settle(false);
          } else settle(true);
        },
      });
    });

  /**
   * After a body: queue the session when the last byte is in. If the queue is full, the bytes of
   * this request are dropped again and QueueFullError (503) goes to the client, which retries.
   */
  const afterWrite = async (up: UploadState, requestStart: number) => {
    if (up.offset < up.length || service.get(up.session.id) !== up.session) return;
    uploads.delete(up.session.id);
    try {
      await service.finishUpload(up.session);
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      service.truncateUpload(up.session, requestStart);
      up.offset = requestStart;
      uploads.set(up.session.id, up);
      emitProgress(up, up.offset, true);
      throw err;
    }
  };

  /** The queue must have room before the body that would complete an upload is read. */
  const assertRoomToFinish = (up: UploadState, declared: number | null) => {
    if (declared !== null && up.offset + declared === up.length) service.assertRoom();
  };

  /** Common checks and headers: auth and Tus-Resumable; errors get the tus/CORS headers. */
  const tus = (handler: Handler, opts2: { preflight?: boolean } = {}): Handler => {
    return async (ctx) => {
      try {
        if (!opts2.preflight && !authorize(ctx, false)) {
          throw new HttpError(401, 'unauthorized', 'Missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
        }
        if (!opts2.preflight && ctx.headers['tus-resumable'] !== TUS_VERSION) {
          throw new HttpError(412, 'unsupported_version', `Tus-Resumable ${TUS_VERSION} is required`, { 'Tus-Version': TUS_VERSION });
        }
        await handler(ctx);
      } catch (e) {
        const err = toHttpError(e);
        if (err.status === 500 && err.code === 'internal') throw e; // the router logs it
        throw new HttpError(err.status, err.code, err.message, { ...corsHeaders(ctx), ...err.headers });
      }
    };
  };
  const options: Handler = (ctx) => {
    send(ctx, 204, '', null, {
      headers: {
        ...corsHeaders(ctx),
        'Tus-Version': TUS_VERSION,
        'Tus-Extension': TUS_EXTENSIONS,
        'Tus-Max-Size': String(config.maxUploadBytes),
        'Tus-Checksum-Algorithm': TUS_CHECKSUM_ALGORITHMS.join(','),
        'Access-Control-Allow-Methods': 'POST, HEAD, PATCH, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': ALLOW_HEADERS,
        'Access-Control-Max-Age': '86400',
      },
    });
  };

  // --- creation (+ creation-with-upload) ---------------------------------------------------
  const create: Handler = async (ctx) => {
    if (ctx.headers['upload-defer-length'] !== undefined) {
      throw new HttpError(400, 'bad_request', 'Upload-Defer-Length is not supported: send Upload-Length');
    }
    if (ctx.headers['upload-concat'] !== undefined) throw new HttpError(400, 'bad_request', 'Upload-Concat is not supported');
    const length = intHeader(ctx, 'Upload-Length');
    if (length === null) throw new HttpError(400, 'bad_request', 'Upload-Length is required');
    if (length === 0) throw new HttpError(400, 'bad_request', 'The upload is empty');
    if (length > config.maxUploadBytes) {
      throw new HttpError(413, 'too_large', `Upload-Length ${length} is over the ${config.maxUploadBytes}-byte limit`);
    }
    const withBody = hasBody(ctx);
    if (withBody && (ctx.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() !== OCTET) {
      throw new HttpError(415, 'unsupported_media_type', `A body sent with the creation request must be ${OCTET}`);
    }
    const checksum = withBody ? parseChecksum(ctx.headers['upload-checksum']) : null;
    const meta = parseUploadMetadata(ctx.headers['upload-metadata']);
    const type: AnalysisType = parseAnalysisType(meta.analysis_type || undefined);
    const params = { ...service.validate(type, meta.params || undefined) };
    const filename = sanitizeFilename(meta.filename ?? meta.name);
    const declared = withBody && ctx.headers['content-length'] !== undefined ? intHeader(ctx, 'Content-Length') : null;
    if (declared !== null && declared === length) service.assertRoom();
    const session = service.createUploading({ analysisType: type, params, filename, uploadLength: length });
    const up = stateOf(session);
    const location = `${base}/${session.id}`;
    let aborted = false;
    if (withBody) {
      try {
        ({ aborted } = await receive(ctx, up, checksum));
        await afterWrite(up, 0);
      } catch (err) {
        // The body was refused (checksum, size, disk, a queue that filled meanwhile): keep
        // nothing of this upload.
        uploads.delete(session.id);
        service.cleanup(session.id);
        throw err;
      }
    }
    if (aborted) return;
    sendJson(
      ctx,
      201,
      { sessionId: session.id, status: session.state.status },
      { headers: { ...corsHeaders(ctx), Location: location, 'Upload-Offset': String(up.session.state.status === 'uploading' ? up.offset : length), ...expiresHeader(session) } },
    );
  };

  // --- core: HEAD and PATCH ----------------------------------------------------------------
  const head: Handler = (ctx) => {
    const found = lookup(ctx);
    const session = found.kind === 'open' ? found.up.session : found.session;
    const length = session.meta.uploadLength!;
    const offset = found.kind === 'open' ? found.up.offset : length;
    send(ctx, 200, '', null, {
      headers: {
        ...corsHeaders(ctx),
        'Upload-Offset': String(offset),
        'Upload-Length': String(length),
        'Cache-Control': 'no-store',
        ...(found.kind === 'open' ? expiresHeader(session) : {}),
      },
    });
  };

  const patch: Handler = async (ctx) => {
    const found = lookup(ctx);
    if ((ctx.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() !== OCTET) {
      throw new HttpError(415, 'unsupported_media_type', `PATCH bodies must be ${OCTET}`);
    }
    const offset = intHeader(ctx, 'Upload-Offset');
    if (offset === null) throw new HttpError(400, 'bad_request', 'Upload-Offset is required');
    const checksum = parseChecksum(ctx.headers['upload-checksum']);
    const declared = ctx.headers['content-length'] !== undefined ? intHeader(ctx, 'Content-Length') : null;

    if (found.kind === 'complete') {
      const length = found.session.meta.uploadLength!;
      if (offset !== length) throw new HttpError(409, 'offset_mismatch', `Upload-Offset ${offset} does not match the upload's offset ${length}`, { 'Upload-Offset': String(length) });
      if (hasBody(ctx)) throw new HttpError(413, 'too_large', 'The upload is already complete');
      send(ctx, 204, '', null, { headers: { ...corsHeaders(ctx), 'Upload-Offset': String(length) } });
      return;
    }
    const up = found.up;
    if (up.active) throw new HttpError(423, 'locked', 'Another request is writing to this upload; retry after a HEAD');
    if (offset !== up.offset) {
      throw new HttpError(409, 'offset_mismatch', `Upload-Offset ${offset} does not match the upload's offset ${up.offset}`, { 'Upload-Offset': String(up.offset) });
    }
    if (declared !== null && offset + declared > up.length) {
      throw new HttpError(413, 'too_large', `The body goes past the declared Upload-Length of ${up.length} bytes`);
    }
    assertRoomToFinish(up, declared);
    const { aborted } = await receive(ctx, up, checksum);
    await afterWrite(up, offset);
    if (aborted) return;
    if (service.get(up.session.id) !== up.session) throw new HttpError(410, 'gone', 'The upload was cancelled or deleted meanwhile');
    send(ctx, 204, '', null, {
      headers: {
        ...corsHeaders(ctx),
        'Upload-Offset': String(up.offset),
        ...(up.session.state.status === 'uploading' ? expiresHeader(up.session) : {}),
      },
    });
  };

  // --- termination -------------------------------------------------------------------------
  const terminate: Handler = (ctx) => {
    const id = ctx.params[0];
    const session = isSessionId(id) ? service.get(id) : undefined;
    if (!session) {
      if (gone.has(id)) throw new HttpError(410, 'gone', 'The upload expired or was terminated');
      throw new HttpError(404, 'not_found', 'No such upload');
    }
    if (session.meta.uploadLength == null) throw new HttpError(404, 'not_found', 'This session was not created by a resumable upload');
    uploads.get(id)?.active?.cancel();
    uploads.delete(id);
    service.cleanup(id);
    markGone(id);
    send(ctx, 204, '', null, { headers: corsHeaders(ctx) });
  };

  /** tus clients behind proxies that drop PATCH/DELETE send POST with X-HTTP-Method-Override. */
  const override: Handler = (ctx) => {
    const m = (ctx.headers['x-http-method-override'] ?? '').toUpperCase();
    if (m === 'PATCH') return patch(ctx);
    if (m === 'DELETE') return terminate(ctx);
    if (m === 'HEAD') return head(ctx);
    throw new HttpError(405, 'method_not_allowed', 'POST an upload to the collection; use PATCH, HEAD or DELETE on an upload');
  };

  router.add('options', base, 'tus_options', tus(options, { preflight: true }), { auth: false });
  router.add('options', `${base}/:id`, 'tus_options', tus(options, { preflight: true }), { auth: false });
  router.add('post', base, 'tus_create', tus(create), { auth: false });
  router.add('head', `${base}/:id`, 'tus_head', tus(head), { auth: false });
  router.add('patch', `${base}/:id`, 'tus_patch', tus(patch), { auth: false });
  router.add('del', `${base}/:id`, 'tus_terminate', tus(terminate), { auth: false });
  router.add('post', `${base}/:id`, 'tus_override', tus(override), { auth: false });
}
