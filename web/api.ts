// The service, as the page reaches it: the typed client (client/), the token, media URLs, and
// this browser's record of finished uploads (so choosing the same file again opens its session).
import { VideoClient } from '../client/src/browser.js';

/** ?token= on the page URL is kept for this tab and sent along. */
export const token = (() => {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) sessionStorage.setItem('vas-token', fromUrl);
  return fromUrl ?? sessionStorage.getItem('vas-token');
})();

export const client = new VideoClient({ token });

/** A media URL of the service (clip, reel, thumbnail, storyboard) with the token for <video>/<img>. */
export function media(path: string): string {
  const url = new URL(client.url(path));
  if (token) url.searchParams.set('token', token);
  return url.href;
}

/** The page's own link to a session. */
export function sessionLink(id: string): string {
  return `/?session=${encodeURIComponent(id)}`;
}

const DONE_KEY = 'vas-finished-uploads';
type Finished = Record<string, { sessionId: string; at: number }>;

/** What identifies "the same upload": the file and the settings it was analysed with. */
export const uploadKey = (file: File, type: string, params: unknown) => JSON.stringify([file.name, file.size, file.lastModified, type, params]);

function readFinished(): Finished {
  try {
    return JSON.parse(localStorage.getItem(DONE_KEY) ?? '{}') as Finished;
  } catch {
    return {};
  }
}

export const finishedUploads = {
  get: (key: string) => readFinished()[key]?.sessionId ?? null,
  set(key: string, sessionId: string) {
    const all = readFinished();
    all[key] = { sessionId, at: Date.now() };
    // keep the 50 newest
    const kept = Object.entries(all).sort((a, b) => b[1].at - a[1].at).slice(0, 50);
    localStorage.setItem(DONE_KEY, JSON.stringify(Object.fromEntries(kept)));
  },
  forget(key: string) {
    const all = readFinished();
    delete all[key];
    localStorage.setItem(DONE_KEY, JSON.stringify(all));
  },
};

/** The API's message in a tus-js-client error ("… response text: {json} …"). */
export function shortError(err: Error): string {
  const m = /response code: (\d+).*response text: (.*?)(?:, request id|$)/s.exec(err.message);
  if (m) {
    try {
      const body = JSON.parse(m[2]) as { error?: { message?: string } };
      if (body.error?.message) return body.error.message;
    } catch {
      // not JSON
    }
    return `HTTP ${m[1]}`;
  }
  return err.message.split('\n')[0];
}
