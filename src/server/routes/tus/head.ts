// HEAD: the upload's offset (where a client resumes) and length.
import { send } from '../../http.js';
import type { Handler } from '../../router.js';
import type { TusContext } from './context.js';

export function headHandler(t: TusContext): Handler {
  return async (ctx) => {
    const found = await t.uploads.lookup(ctx);
    const session = found.kind === 'open' ? found.up.session : found.session;
    const length = session.meta.uploadLength!;
    const offset = found.kind === 'open' ? found.up.offset : length;
    send(ctx, 200, '', null, {
      headers: {
        ...t.headers(ctx),
        'Upload-Offset': String(offset),
        'Upload-Length': String(length),
        'Cache-Control': 'no-store',
        ...(found.kind === 'open' ? t.uploads.expiresHeader(session) : {}),
      },
    });
  };
}
