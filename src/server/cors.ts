// Which browser origins may use the service: its own (the Origin's host is the Host the request
// was sent to), plus CORS_ORIGINS ('*' for any). Requests without an Origin header come from
// non-browser clients and are not subject to it. The WebSocket upgrade and the tus routes ask
// the same question here.
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
