// Media of a session: clips of segments and exercise steps, the reel, thumbnails and the
// storyboard (WebVTT + sprites). Media elements (<video>, <img>, <track>) cannot send headers,
// so these routes take ?token= as well as the bearer header; the storyboard's sprite links
// carry the token on when the track was fetched with one.
import type { VideoService } from '../../streams/service.js';
import type { MediaLinks } from '../../streams/service.js';
import { isSessionId } from '../../streams/store.js';
import type { StoryboardIndex } from '../../engine/types.js';
import type { Ctx } from '../http.js';
import { HttpError, send } from '../http.js';
import { sendFile } from '../file-response.js';
import type { Router } from '../router.js';
import { notFound, sessionParam } from './v1.js';

const BASE = '/api/v1/video';

export const MEDIA_LINKS: MediaLinks = {
  clip: (id, index) => `${BASE}/clip/${id}/${index}.mp4`,
  stepClip: (id, n) => `${BASE}/clip/${id}/step-${n}.mp4`,
  reel: (id) => `${BASE}/reel/${id}.mp4`,
  thumbnail: (id, index) => `${BASE}/thumbnail/${id}/${index}.jpg`,
  storyboard: (id) => `${BASE}/storyboard/${id}.vtt`,
};
const spriteLink = (id: string, n: number) => `${BASE}/storyboard/${id}/${n}.jpg`;

const MP4 = 'video/mp4';
const JPEG = 'image/jpeg';
const VTT = 'text/vtt; charset=utf-8';

/** The number in a file name like `12.jpg` (at most 6 digits), or a 404. */
function numbered(name: string, re: RegExp): number {
  const m = re.exec(name);
  if (!m) throw new HttpError(404, 'not_found', 'No such media');
  return Number(m[1]);
}

/** A session id with an extension (`<id>.mp4`), or a 404. */
function sessionFile(ctx: Ctx, ext: string): string {
  const name = ctx.params[0];
  const id = name.endsWith(ext) ? name.slice(0, -ext.length) : '';
  if (!isSessionId(id)) throw notFound();
  return id;
}

function clock(t: number): string {
  const ms = Math.max(0, Math.round(t * 1000));
  const h = Math.floor(ms / 3_600_000), m = Math.floor(ms / 60_000) % 60, s = Math.floor(ms / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** A WebVTT thumbnails track: one cue per tile, its text the sprite URL with a #xywh= fragment. */
export function storyboardVtt(id: string, board: StoryboardIndex, token: string | null): string {
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  const cues = board.tiles.map(
    (t) => `${clock(t.start)} --> ${clock(t.end)}\n${spriteLink(id, t.sprite)}${query}#xywh=${t.x},${t.y},${board.tileWidth},${board.tileHeight}`,
  );
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

export function registerMedia(router: Router, service: VideoService): void {
  const opts = { auth: 'query' as const };

  router.add('get', `${BASE}/clip/:sessionId/:file`, 'clip', async (ctx) => {
    const id = sessionParam(ctx);
    const name = ctx.params[1];
    const file = name.startsWith('step-')
      ? await service.media.stepClip(id, numbered(name, /^step-(\d{1,6})\.mp4$/))
      : await service.media.clip(id, numbered(name, /^(\d{1,6})\.mp4$/));
    await sendFile(ctx, file, MP4);
  }, opts);

  router.add('get', `${BASE}/reel/:file`, 'reel', async (ctx) => {
    await sendFile(ctx, await service.media.reel(sessionFile(ctx, '.mp4')), MP4);
  }, opts);

  router.add('get', `${BASE}/thumbnail/:sessionId/:file`, 'thumbnail', async (ctx) => {
    const id = sessionParam(ctx);
    await sendFile(ctx, await service.media.thumbnail(id, numbered(ctx.params[1], /^(\d{1,6})\.jpg$/)), JPEG);
  }, opts);

  router.add('get', `${BASE}/storyboard/:file`, 'storyboard', async (ctx) => {
    const id = sessionFile(ctx, '.vtt');
    send(ctx, 200, storyboardVtt(id, await service.media.storyboard(id), ctx.query.get('token')), VTT, { headers: { 'Cache-Control': 'private, max-age=3600' } });
  }, opts);

  router.add('get', `${BASE}/storyboard/:sessionId/:file`, 'storyboard_sprite', async (ctx) => {
    const id = sessionParam(ctx);
    await sendFile(ctx, await service.media.sprite(id, numbered(ctx.params[1], /^(\d{1,6})\.jpg$/)), JPEG);
  }, opts);
}
