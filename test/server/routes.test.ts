// The API's HTTP surface over a real socket: 405 + Allow on known paths, the upload's Location
// and links, the results URL in the `completed` event, and the sessions list.
import fs from 'node:fs';
import { EventSource } from 'eventsource';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, pollStatus, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let dir: string;
let video: string;
const api = () => `${srv.url}/api/v1/video`;

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 2, width: 160, height: 120, audio: false });
  srv = await startTestServer({ ENGINE_CONCURRENCY: '2' });
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a known path with the wrong method is 405 with Allow; unknown paths stay 404', async () => {
  const id = 'V1StGXR8_Z5jdHi6B-myT';
  const cases: Array<[string, string, string[]]> = [
    ['POST', `${api()}/status/${id}`, ['GET']],
    ['GET', `${api()}/upload`, ['POST']],
    ['PUT', `${api()}/cancel/${id}`, ['POST']],
    ['POST', `${api()}/cleanup/${id}`, ['DELETE']],
    ['DELETE', `${api()}/sessions`, ['GET']],
    ['PUT', `${srv.url}/health`, ['GET', 'HEAD']],
    ['GET', `${api()}/uploads`, ['POST']],
    ['GET', `${api()}/uploads/${id}`, ['HEAD', 'PATCH', 'DELETE', 'POST']],
  ];
  for (const [method, url, allowed] of cases) {
    const r = await getJson(url, { method });
    assert.is(r.status, 405, `${method} ${url}`);
    assert.is(r.body.error.code, 'method_not_allowed');
    const allow = r.headers.get('allow')!.split(', ');
    assert.equal(allow.sort(), [...allowed, 'OPTIONS'].sort(), `${method} ${url}: ${allow}`);
  }
  // tus's method override of a method it does not take: the same 405.
  const override = await getJson(`${api()}/uploads/${id}`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'X-HTTP-Method-Override': 'GET' } });
  assert.is(override.status, 405);
  assert.match(override.headers.get('allow')!, /PATCH/);
  const legacy = await getJson(`${srv.url}/analyze/workout`);
  assert.is(legacy.status, 405);
  assert.match(legacy.body.detail, /POST/, 'legacy paths keep their error shape');
  assert.is(legacy.headers.get('allow'), 'POST, OPTIONS');
  assert.is((await getJson(`${api()}/nothing`, { method: 'POST' })).status, 404);
});

test('the upload\'s 202 has Location and links; the completed event carries the results URL', async () => {
  const up = await upload(`${api()}/upload`, video);
  assert.is(up.status, 202);
  const id = up.body.sessionId;
  const links = up.body.links;
  assert.equal(links, {
    status: `/api/v1/video/status/${id}`,
    events: `/api/v1/video/events/${id}`,
    results: `/api/v1/video/results/${id}`,
    cancel: `/api/v1/video/cancel/${id}`,
    cleanup: `/api/v1/video/cleanup/${id}`,
  });
  assert.is(up.headers.get('location'), links.status);
  // The links work as they are, resolved against the service's URL.
  const completed = await new Promise<any>((resolve, reject) => {
    const es = new EventSource(new URL(links.events, srv.url).href);
    es.addEventListener('completed', (e: MessageEvent) => (es.close(), resolve(JSON.parse(e.data))));
    es.addEventListener('failed', (e: MessageEvent) => (es.close(), reject(new Error(e.data))));
  });
  assert.is(completed.results_url, links.results);
  assert.type(completed.highlights_found, 'number', 'the summary is still there');
  const res = await getJson(new URL(completed.results_url, srv.url).href);
  assert.is(res.status, 200);
  assert.is(res.body.results.analysis_type, 'highlights');
  assert.is((await getJson(new URL(links.status, srv.url).href)).body.status, 'completed');

  // The WebSocket carries the same event, replayed from the journal.
  const frame = await new Promise<any>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/v1/video/ws`);
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', sessionId: id })));
    ws.on('message', (m) => {
      const f = JSON.parse(m.toString());
      if (f.type === 'completed') (ws.close(), resolve(f));
    });
  });
  assert.equal(frame.data, completed);

  // tus creation answers with the same links.
  const tus = await fetch(`${api()}/uploads`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '100' } });
  const body = await tus.json();
  assert.is(body.links.events, `/api/v1/video/events/${body.sessionId}`);
});

test('sessions list: newest first, status filter, cursor pages with no gap or repeat, no results bodies', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const up = await upload(`${api()}/upload`, video, {}, { filename: `clip${i}.mp4` });
    assert.is(up.status, 202);
    ids.push(up.body.sessionId);
    await new Promise((r) => setTimeout(r, 3)); // distinct createdAt (the order is also defined on ties)
  }
  for (const id of ids) await pollStatus(srv.url, id, isTerminalStatus);
  await getJson(`${api()}/cancel/${ids[2]}`, { method: 'POST' }); // completed already: stays completed

  const all = await getJson(`${api()}/sessions?limit=100`);
  assert.is(all.status, 200);
  const listed: string[] = all.body.sessions.map((s: any) => s.sessionId);
  const mine = listed.filter((id) => ids.includes(id));
  assert.equal(mine, [...ids].reverse(), 'newest first');
  for (let i = 1; i < all.body.sessions.length; i++) {
    assert.ok(all.body.sessions[i - 1].createdAt >= all.body.sessions[i].createdAt);
  }
  assert.is(all.body.nextCursor, null);
  const one = all.body.sessions.find((s: any) => s.sessionId === ids[0]);
  assert.is(one.filename, 'clip0.mp4');
  assert.is(one.status, 'completed');
  assert.is(one.links.results, `/api/v1/video/results/${ids[0]}`);
  assert.not.ok('results' in one, 'no results bodies in the list');
  assert.not.match(JSON.stringify(all.body), /all_analyses|"highlights":\[/);

  // Pages of 2 walk the same list.
  const walked: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = `${api()}/sessions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await getJson(q);
    assert.is(page.status, 200, JSON.stringify(page.body));
    assert.ok(page.body.sessions.length <= 2);
    walked.push(...page.body.sessions.map((s: any) => s.sessionId));
    cursor = page.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  assert.equal(walked, listed);
  assert.is(pages, Math.ceil(listed.length / 2));

  // A session created after a page was read does not shift the next pages.
  const first = await getJson(`${api()}/sessions?limit=2`);
  await upload(`${api()}/upload`, video);
  const second = await getJson(`${api()}/sessions?limit=2&cursor=${first.body.nextCursor}`);
  assert.equal(second.body.sessions.map((s: any) => s.sessionId), listed.slice(2, 4));

  const tusUp = await fetch(`${api()}/uploads`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '100' } });
  const uploadingId = (await tusUp.json()).sessionId;
  const uploading = await getJson(`${api()}/sessions?status=uploading`);
  assert.ok(uploading.body.sessions.length >= 1);
  assert.ok(uploading.body.sessions.every((s: any) => s.status === 'uploading'));
  assert.ok(uploading.body.sessions.some((s: any) => s.sessionId === uploadingId));
  const completed = await getJson(`${api()}/sessions?status=completed&limit=100`);
  assert.ok(completed.body.sessions.every((s: any) => s.status === 'completed'));
  assert.ok(ids.every((id) => completed.body.sessions.some((s: any) => s.sessionId === id)));
});

test('sessions list: bad parameters are 400 with a message naming them', async () => {
  for (const [q, re] of [
    ['status=done', /status/],
    ['limit=0', /limit/],
    ['limit=101', /limit/],
    ['limit=abc', /limit/],
    ['cursor=bm9wZQ', /cursor/],
    ['cursor=%%%', /cursor/],
  ] as const) {
    const r = await getJson(`${api()}/sessions?${q}`);
    assert.is(r.status, 400, q);
    assert.is(r.body.error.code, 'bad_request');
    assert.match(r.body.error.message, re);
  }
});

test('sessions list needs the token when API_TOKEN is set', async () => {
  const locked = await startTestServer({ API_TOKEN: 's3cret' });
  try {
    assert.is((await getJson(`${locked.url}/api/v1/video/sessions`)).status, 401);
    const ok = await getJson(`${locked.url}/api/v1/video/sessions`, { headers: { Authorization: 'Bearer s3cret' } });
    assert.is(ok.status, 200);
    assert.equal(ok.body, { sessions: [], nextCursor: null });
  } finally {
    await locked.close();
  }
});

test.run();
