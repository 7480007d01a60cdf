// Which browser origins may use the service, and the CORS headers they get. Allowed: the
// service's own origin (the Origin's host is the Host the request was sent to), plus CORS_ORIGINS
// ('*' for any). Requests without an Origin header come from non-browser clients and are not
// subject to it. Every route (REST, SSE, tus, through the router) and the WebSocket upgrade ask
// the same question here, so they agree: a listed origin gets the headers, any other is refused.
import type { Config } from './config.js';

export type OriginPolicy = (origin: string | undefined, host: string | undefined) => boolean;

export function makeOriginPolicy(config: Pick<Config, 'corsOrigins'>): OriginPolicy {
  const allowed = config.corsOrigins;
  return (origin, host) => {
    if (origin === undefined) return true;
    if (allowed === '*') return true;
    if (allowed.includes(origin)) return true;
    try {
      return host !== undefined && new URL(origin).host === host.toLowerCase();
    } catch {
      return false; // "null" and other opaque origins
    }
  };
}

/** Request headers a browser may send (preflight answer): the API's, SSE's and tus's. */
export const ALLOW_HEADERS = [
  'Authorization', 'Content-Type', 'Last-Event-ID', 'X-Requested-With', 'X-HTTP-Method-Override',
  'Tus-Resumable', 'Upload-Length', 'Upload-Offset', 'Upload-Metadata', 'Upload-Checksum',
  'Upload-Defer-Length', 'Upload-Concat',
].join(', ');

/** Response headers a browser script may read: the API's (Location, Allow, Retry-After…) and tus's. */
export const EXPOSE_HEADERS = [
  'Location', 'Allow', 'Retry-After', 'WWW-Authenticate',
  'Upload-Offset', 'Upload-Length', 'Upload-Expires', 'Upload-Metadata',
  'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Checksum-Algorithm',
].join(', ');

/** Methods a preflight may ask for; the route's own answer (405 + Allow) says which it takes. */
export const ALLOW_METHODS = 'GET, HEAD, POST, PATCH, DELETE, OPTIONS';

/** Headers for an answer to an allowed origin's request (none without an Origin). */
export function corsHeaders(origin: string | undefined): Record<string, string> {
  if (origin === undefined) return { Vary: 'Origin' };
  return { Vary: 'Origin', 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': EXPOSE_HEADERS };
}

/** Extra headers of a preflight answer. */
export function preflightHeaders(): Record<string, string> {
  return { 'Access-Control-Allow-Methods': ALLOW_METHODS, 'Access-Control-Allow-Headers': ALLOW_HEADERS, 'Access-Control-Max-Age': '86400' };
}
