// Bearer-token check for API_TOKEN. Browsers cannot set headers on EventSource or WebSocket, so
// those routes may pass ?token= instead.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Ctx } from './http.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function makeAuth(token: string | null) {
  const expected = token ? digest(token) : null;
  return (ctx: Ctx, allowQueryToken: boolean): boolean => {
    if (!expected) return true;
    const header = ctx.headers['authorization'] ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const given = m?.[1] ?? (allowQueryToken ? ctx.query.get('token') : null);
    return given != null && timingSafeEqual(digest(given), expected);
  };
}
