// The web page in headless Chromium against a real server, beyond the first upload: reloading
// while the session is still running, the sessions view (live progress, cancel, delete), a
// workout's sets and reps, a truncated file's warnings, a file that cannot be read, and a narrow
// screen. A long "blocker" video keeps the one engine slot busy, so a session waits in the
// queue for as long as a test needs it to be running; cancelling the blocker lets it go on.
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { artifacts, openPage, screenshot, sessionInUrl, setInput, vasLog, waitFor, waitSelector, webSuite } from '../helpers/browser.js';
import { makeHighlightsVideo, makeTestVideo, makeWorkoutVideo, sharedMediaDir } from '../helpers/media.js';
import { getJson, pollStatus, upload, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let browser: Browser;
let blocker: string;
let highlights: string;
let workout: Awaited<ReturnType<typeof makeWorkoutVideo>>;
const API = '/api/v1/video';
const media = sharedMediaDir();

/**
 * Queues the blocker `n` times (multipart uploads) and resolves once the first is processing:
 * the sessions after them wait about n × five seconds, however fast this machine is.
 */
async function startBlockers(n = 3): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await upload(`${srv.url}${API}/upload`, blocker, { analysis_type: 'highlights' });
    assert.is(r.status, 202);
    ids.push(r.body.sessionId);
  }
  await pollStatus(srv.url, ids[0], (s) => s.status !== 'uploading' && s.status !== 'pending', 30_000);
  return ids;
}
const status = async (id: string) => (await getJson(`${srv.url}${API}/status/${id}`)).body;
const cancel = (id: string) => fetch(`${srv.url}${API}/cancel/${id}`, { method: 'POST' }).then((r) => r.arrayBuffer());

const suite = webSuite('test/web/views.test', (dir) =>
  Promise.all([
    // about five seconds of analysis: long enough to be caught running
    makeTestVideo(dir, { seconds: 600, width: 160, height: 90, audio: false, name: 'blocker.mp4' }),
    makeHighlightsVideo(dir, 'match.mp4').then((v) => v.path),
    makeWorkoutVideo(dir, 'workout.mp4'),
  ]),
);
if (suite) {
  test.before(() => void ({ srv, browser, media: [blocker, highlights, workout] } = suite));

  test('reload while the session is queued: the page shows it again and follows it live to the end', async () => {
    const blockers = await startBlockers();
    const { page, problems } = await openPage(browser, srv.url);
    await page.setInputFiles('#file', highlights);
    await waitFor(page, srv.url, 'the upload done', () => /done/.test(document.getElementById('upload-text')!.textContent!), null);
    const id = sessionInUrl(page)!;
    assert.ok(id);
    await page.reload();
    await waitFor(
      page,
      srv.url,
      '"Queued" and live after the reload',
      () => document.getElementById('analysis-text')!.textContent === 'Queued' && document.getElementById('conn')!.textContent === 'Live',
      null,
      20_000,
    );
    assert.is((await status(id)).status, 'pending', 'still waiting for the engine when the page showed it');
    assert.match((await page.textContent('#file-name'))!, /match\.mp4/);
    assert.is(await page.textContent('#upload-text'), 'Uploaded earlier');
    await screenshot(page, 'reloaded-queued');
    await Promise.all(blockers.map(cancel));
    await waitSelector(page, srv.url, '#results:not([hidden])', 60_000);
    const log = await vasLog(page);
    // the analysis ran after the reload, and the page saw it happen
    assert.ok(log.some((e) => e.kind === 'status' && e.detail === 'processing'), 'saw it processing');
    assert.ok(log.some((e) => e.kind === 'segment'), 'segments arrived');
    const r = (await getJson(`${srv.url}${API}/results/${id}`)).body.results;
    assert.is(await page.locator('#lane .seg').count(), r.total_segments_analyzed);
    assert.is(sessionInUrl(page), id);
    assert.equal(problems, []);
    await page.close();
  });

  test('sessions view: status, type, duration, found, live progress of a running one, cancel and delete', async () => {
    const [busy, ...queued] = await startBlockers();
    const { page, problems } = await openPage(browser, srv.url, '/?view=sessions');
    const row = (id: string) => `#sessions-body tr[data-session="${id}"]`;
    await waitSelector(page, srv.url, `${row(busy)}[data-status="processing"] progress`, 20_000);
    const p0 = await page.$eval(`${row(busy)} progress`, (el) => (el as HTMLProgressElement).value);
    await waitFor(page, srv.url, 'the progress to move', ([sel, v]) => ((document.querySelector(sel) as HTMLProgressElement | null)?.value ?? 0) > v, [`${row(busy)} progress`, p0], 20_000);
    await screenshot(page, 'sessions-running');
    // a completed session (the first test's) shows what it found and the video's length
    const all = (await getJson(`${srv.url}${API}/sessions?limit=100`)).body.sessions;
    const finished = all.find((s: any) => s.status === 'completed' && s.filename === 'match.mp4');
    assert.ok(finished, 'a completed session in the list');
    const r = (await getJson(`${srv.url}${API}/results/${finished.sessionId}`)).body.results;
    const cells = await page.$$eval(`${row(finished.sessionId)} td`, (els) => els.map((e) => e.textContent));
    assert.is(cells[0], 'Highlights');
    assert.is(cells[1], 'completed');
    assert.is(cells[3], '00:30');
    assert.is(cells[4], `${r.highlights_found} highlights`);
    // Cancel the running one from the view.
    await page.click(`${row(busy)} button:has-text("Cancel")`);
    await waitSelector(page, srv.url, `${row(busy)}[data-status="cancelled"]`, 20_000);
    assert.is((await status(busy)).status, 'cancelled');
    // Delete the cancelled one: gone from the view and from the server.
    page.once('dialog', (d) => void d.accept());
    await page.click(`${row(busy)} button:has-text("Delete")`);
    await waitFor(page, srv.url, 'the row gone', (sel) => !document.querySelector(sel), row(busy), 10_000);
    assert.is((await getJson(`${srv.url}${API}/status/${busy}`)).status, 404);
    await Promise.all(queued.map(cancel));
    // Its link opens a session in the page.
    await page.click(`${row(finished.sessionId)} a`);
    await waitSelector(page, srv.url, '#results:not([hidden])', 20_000);
    assert.is(sessionInUrl(page), finished.sessionId);
    assert.ok(await page.locator('#sessions-view').isHidden());
    await page.goBack();
    await waitSelector(page, srv.url, '#sessions-view:not([hidden])', 10_000);
    await screenshot(page, 'sessions');
    assert.equal(problems, []);
    await page.close();
  });

  test('workout: sets as coloured spans with reps and tempo, rests between, a tick per rep, a legend of what is drawn', async () => {
    const { page, problems } = await openPage(browser, srv.url);
    await page.check('input[name="analysis_type"][value="workout"]');
    await setInput(page, '#segment-duration', '5');
    // Hold the results back: the timeline shows what the live segments said until they come.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    await page.route('**/api/v1/video/results/**', async (route) => {
      await held;
      await route.continue();
    });
    await page.setInputFiles('#file', workout.path);
    await waitFor(page, srv.url, 'the last event', () => (window as any).__vas.log.some((e: { kind: string }) => e.kind === 'completed'), null, 90_000);
    const live = (await vasLog(page)).filter((e) => e.kind === 'segment').length;
    assert.is(await page.locator('#lane .win').count(), live, 'a window per live segment');
    assert.ok((await page.locator('#lane .win.set').count()) > 0, 'windows inside sets coloured as sets');
    const liveKeys = await page.$$eval('#legend .key', (els) => els.map((e) => e.textContent!.trim()));
    assert.ok(liveKeys.includes('Set 1') && liveKeys.includes('Rest'), `live legend ${liveKeys}`);
    await page.locator('#timeline-card').scrollIntoViewIfNeeded();
    await screenshot(page, 'workout-live');
    release();
    await waitSelector(page, srv.url, '#results:not([hidden])', 30_000);
    await page.unroute('**/api/v1/video/results/**');
    const r = (await getJson(`${srv.url}${API}/results/${sessionInUrl(page)}`)).body.results;
    assert.is(r.exercise_steps.length, workout.sets.length);
    const sets = await page.$$eval('#lane .set-span', (els) =>
      els.map((e) => ({ label: e.getAttribute('aria-label'), reps: e.querySelectorAll('.rep').length, colour: getComputedStyle(e).backgroundColor })),
    );
    assert.is(sets.length, r.exercise_steps.length);
    r.exercise_steps.forEach((s: any, i: number) => {
      assert.is(sets[i].reps, s.rep_timestamps.length, `a tick per rep of ${s.exercise_name}`);
      assert.is(sets[i].reps, s.rep_count);
      assert.match(sets[i].label!, new RegExp(`^${s.exercise_name}, .*: ${s.rep_count} reps, \\d\\.\\d s per rep$`));
    });
    assert.is.not(sets[0].colour, sets[1].colour, 'each set its colour');
    assert.ok((await page.locator('#lane .rest-span').count()) >= 2, 'rests before, between and after the sets');
    // The legend names exactly what is drawn, in the same colours; no score ramp.
    const legend = await page.$$eval('#legend .key', (els) => els.map((e) => ({ text: e.textContent!.trim(), colour: getComputedStyle(e.querySelector('.swatch')!).backgroundColor })));
    assert.equal(legend.map((k) => k.text), ['Rest', 'Set 1', 'Set 2', 'one repetition', 'playhead', 'playing now']);
    assert.is(legend[1].colour, sets[0].colour);
    assert.is(legend[2].colour, sets[1].colour);
    assert.is(await page.locator('#legend .ramp').count(), 0);
    assert.is(await page.locator('#highlights li').count(), r.exercise_steps.length);
    // Playing a set stops at its end.
    await page.locator('#highlights li .play').nth(1).click();
    await waitFor(page, srv.url, 'the set to stop', () => (window as any).__vas.log.some((e: { kind: string }) => e.kind === 'stopped'), null, 40_000);
    const t = await page.$eval('#player', (v) => (v as HTMLVideoElement).currentTime);
    const end = r.exercise_steps[1].end_timestamp;
    assert.ok(t >= end - 0.1 && t <= end + 0.05, `stopped at ${t}, the set ends at ${end}`);
    await page.locator('#timeline-card').scrollIntoViewIfNeeded();
    await screenshot(page, 'workout');
    assert.equal(problems, []);
    await page.close();
  });

  test('a truncated file shows the results’ warnings; a file that cannot be read shows the error alone', async () => {
    if (!media) {
      console.log('SKIP the shared media part: ../shared/media is missing');
      return;
    }
    const { page, problems } = await openPage(browser, srv.url);
    await page.setInputFiles('#file', path.join(media, 'edge_mediarecorder_truncated_noduration.webm'));
    await waitSelector(page, srv.url, '#results:not([hidden])', 60_000);
    const r = (await getJson(`${srv.url}${API}/results/${sessionInUrl(page)}`)).body.results;
    assert.ok(r.warnings?.some((w: any) => w.code === 'truncated'), 'the server found it truncated');
    assert.is(await page.textContent('#analysis-text'), `Completed with ${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'}`);
    assert.ok(await page.locator('#warnings-box').isVisible());
    assert.equal(await page.$$eval('#warnings li', (els) => els.map((e) => e.textContent)), r.warnings.map((w: any) => w.message));
    await screenshot(page, 'truncated');

    await page.goto(srv.url + '/');
    await page.setInputFiles('#file', path.join(media, 'edge_corrupt_stsc_stco.mp4'));
    await waitSelector(page, srv.url, '#error:not([hidden])', 60_000);
    assert.is(await page.textContent('#analysis-text'), 'Failed');
    assert.is(await page.$eval('#upload-progress', (el) => (el as HTMLProgressElement).value), 1, 'the upload itself finished');
    assert.is(await page.textContent('#conn'), 'Stopped');
    assert.ok(await page.locator('#results').isHidden());
    assert.not.match((await page.textContent('#error'))!, /\/tmp|\/work/, 'no paths in the message');
    await screenshot(page, 'unreadable');
    assert.equal(problems, []);
    await page.close();
  });

  test('narrow screen: nothing overflows, and playing a highlight brings the player into view', async () => {
    const r0 = await upload(`${srv.url}${API}/upload`, highlights, { analysis_type: 'highlights', params: JSON.stringify({ min_significance: 5 }) });
    assert.is(r0.status, 202, JSON.stringify(r0.body));
    const id = r0.body.sessionId;
    await pollStatus(srv.url, id, (s) => s.status === 'completed', 60_000);
    const { page, problems } = await openPage(browser, srv.url, `/?session=${id}`, { width: 390, height: 740 });
    await waitSelector(page, srv.url, '#results:not([hidden])', 30_000);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no sideways scrolling');
    await screenshot(page, 'narrow-full');
    const last = page.locator('#highlights li .play').last();
    await last.scrollIntoViewIfNeeded();
    await last.click();
    await waitFor(
      page,
      srv.url,
      'the player in view',
      () => {
        const r = document.getElementById('player')!.getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight;
      },
      null,
      10_000,
    );
    await waitFor(page, srv.url, 'the clip to end', () => (window as any).__vas.log.some((e: { kind: string }) => e.kind === 'stopped'), null, 30_000);
    await page.screenshot({ path: path.join(artifacts(), 'narrow-playing.png'), animations: 'disabled' });
    assert.equal(problems, []);
    await page.close();
  });
}

test.run();
