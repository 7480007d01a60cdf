// POST: creation, and creation-with-upload (the first bytes in the same request).
import type { AnalysisType } from '../../../engine/types.js';
import { parseAnalysisType } from '../../../engine/params.js';
import { HttpError, sendJson } from '../../http.js';
import { sanitizeFilename } from '../../multipart.js';
import { sessionLinks } from '../../links.js';
import type { Handler } from '../../router.js';
import type { TusContext } from './context.js';
import { publicBase } from '../v1.js';
import { OCTET, hasBody, intHeader, isOctetStream, parseChecksum, parseUploadMetadata } from './protocol.js';

export function postHandler(t: TusContext): Handler {
  const { service, config, uploads } = t;
  return async (ctx) => {
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
    if (withBody && !isOctetStream(ctx)) {
      throw new HttpError(415, 'unsupported_media_type', `A body sent with the creation request must be ${OCTET}`);
    }
    const checksum = withBody ? parseChecksum(ctx.headers['upload-checksum']) : null;
    const meta = parseUploadMetadata(ctx.headers['upload-metadata']);
    const type: AnalysisType = parseAnalysisType(meta.analysis_type || undefined);
    const params = { ...service.validate(type, meta.params || undefined) };
    const filename = sanitizeFilename(meta.filename ?? meta.name);
    const declared = withBody && ctx.headers['content-length'] !== undefined ? intHeader(ctx, 'Content-Length') : null;
    if (declared !== null && declared === length) await service.assertRoom();
    const webhook = service.webhookTarget(meta.webhook_url, publicBase(config, ctx));
    const session = await service.createUploading({ analysisType: type, params, filename, uploadLength: length, webhook });
    const up = uploads.stateOf(session);
    let aborted = false;
    if (withBody) {
      try {
        ({ aborted } = await uploads.receive(ctx, up, checksum));
        await uploads.afterWrite(up, 0);
      } catch (err) {
        // The body was refused (checksum, size, disk, a queue that filled meanwhile): keep
        // nothing of this upload.
        uploads.forget(session.id);
        await service.cleanup(session.id);
        throw err;
      }
    }
    if (aborted) {
      // The client never learned where its upload is: keep nothing (it creates a new one).
      uploads.forget(session.id);
      await service.cleanup(session.id);
      return;
    }
    const offset = session.state.status === 'uploading' ? up.offset : length;
    sendJson(
      ctx,
      201,
      { sessionId: session.id, status: session.state.status, links: sessionLinks(session.id) },
      { headers: { ...t.headers(ctx), Location: `${t.base}/${session.id}`, 'Upload-Offset': String(offset), ...uploads.expiresHeader(session) } },
    );
  };
}
