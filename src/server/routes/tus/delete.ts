// DELETE: termination. A request writing to the upload meanwhile is answered 410.
import { send } from '../../http.js';
import type { Handler } from '../../router.js';
import type { TusContext } from './context.js';

export function deleteHandler(t: TusContext): Handler {
  return async (ctx) => {
    await t.uploads.terminate(ctx);
    send(ctx, 204, '', null, { headers: t.headers(ctx) });
  };
}
