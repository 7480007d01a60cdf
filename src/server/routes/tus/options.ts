// OPTIONS: what the server supports (also the CORS preflight, whose headers the router adds; needs no token).
import { send } from '../../http.js';
import type { Handler } from '../../router.js';
import type { TusContext } from './context.js';
import { TUS_CHECKSUM_ALGORITHMS, TUS_EXTENSIONS, TUS_VERSION } from './protocol.js';

export function optionsHandler(t: TusContext): Handler {
  return (ctx) => {
    send(ctx, 204, '', null, {
      headers: {
        ...t.headers(ctx),
        'Tus-Version': TUS_VERSION,
        'Tus-Extension': TUS_EXTENSIONS,
        'Tus-Max-Size': String(t.config.maxUploadBytes),
        'Tus-Checksum-Algorithm': TUS_CHECKSUM_ALGORITHMS.join(','),
      },
    });
  };
}
