// PATCH: bytes at the upload's offset. One request writes at a time (423 for a second one: tus
// clients retry after a HEAD); the request that would complete the upload needs room in the
// analysis queue (503 otherwise, its bytes not kept).
import { HttpError, send } from '../../http.js';
import type { Handler } from '../../router.js';
import type { TusContext } from './context.js';
import { OCTET, hasBody, intHeader, isOctetStream, parseChecksum } from './protocol.js';

export function patchHandler(t: TusContext): Handler {
  const { service, uploads } = t;
  return async (ctx) => {
    service.assertReachable(); // its progress and its end are writes to the shared store
    const found = await uploads.lookup(ctx);
    if (!isOctetStream(ctx)) throw new HttpError(415, 'unsupported_media_type', `PATCH bodies must be ${OCTET}`);
    const offset = intHeader(ctx, 'Upload-Offset');
    if (offset === null) throw new HttpError(400, 'bad_request', 'Upload-Offset is required');
    const checksum = parseChecksum(ctx.headers['upload-checksum']);
    const declared = ctx.headers['content-length'] !== undefined ? intHeader(ctx, 'Content-Length') : null;

    if (found.kind === 'complete') {
      const length = found.session.meta.uploadLength!;
      if (offset !== length) throw new HttpError(409, 'offset_mismatch', `Upload-Offset ${offset} does not match the upload's offset ${length}`, { 'Upload-Offset': String(length) });
      if (hasBody(ctx)) throw new HttpError(413, 'too_large', 'The upload is already complete');
      send(ctx, 204, '', null, { headers: { ...t.headers(ctx), 'Upload-Offset': String(length) } });
      return;
    }
    const up = found.up;
    if (up.active) throw new HttpError(423, 'locked', 'Another request is writing to this upload; retry after a HEAD');
    const lock = await uploads.lock(up);
    try {
      if (offset !== up.offset) {
        throw new HttpError(409, 'offset_mismatch', `Upload-Offset ${offset} does not match the upload's offset ${up.offset}`, { 'Upload-Offset': String(up.offset) });
      }
      if (declared !== null && offset + declared > up.length) {
        throw new HttpError(413, 'too_large', `The body goes past the declared Upload-Length of ${up.length} bytes`);
      }
      service.assertAccepting(); // draining: the client resumes at the next instance
      await uploads.assertRoomToFinish(up, declared);
    } catch (err) {
      await lock.release();
      throw err;
    }
    const { aborted } = await uploads.receive(ctx, up, checksum, lock);
    await uploads.afterWrite(up, offset);
    if (aborted) return;
    if ((await service.get(up.session.id)) !== up.session) throw new HttpError(410, 'gone', 'The upload was cancelled or deleted meanwhile');
    send(ctx, 204, '', null, {
      headers: {
        ...t.headers(ctx),
        'Upload-Offset': String(up.offset),
        ...(up.session.state.status === 'uploading' ? uploads.expiresHeader(up.session) : {}),
      },
    });
  };
}
