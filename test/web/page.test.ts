// The web page in headless Chromium against a real server and real media: choose a video and
// watch the upload and the analysis move, the storyboard timeline and the highlights appear;
// play a highlight and see it stop at its end; choose the same file again and see its session reopened; download what the results offer; pause and
// resume an upload; the live stream reconnecting by itself; a session opened by its link, and a
// finished upload chosen again opening its session. Skipped, with the reason printed, only when
// no Chromium is installed (CI installs it: WITH_BROWSER=1 scripts/setup.sh).
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openPage, screenshot, sessionInUrl, setInput, vasLog, waitFor, waitSelector, webSuite } from '../helpers/browser.js';
import { makeHighlightsVideo, makeTestVideo } from '../helpers/media.js';
import { getJson, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let browser: Browser;
let video: string;
let shortVideo: string;
/** The session of the first test, finished: the later tests open it by its link. */
let done: { id: string; results: any } | null = null;

const resultsOf = async (id: string) => (await getJson(`${srv.url}/api/v1/video/results/${id}`)).body.results;
const playerState = (page: Page) =>
  page.$eval('#player', (v) => {
    const el = v as HTMLVideoElement;
    return { t: el.currentTime, paused: el.paused, muted: el.muted, src: el.currentSrc };
  });

const suite = webSuite('test/web/page.test', (dir) =>
  Promise.all([
    makeHighlightsVideo(dir, 'match.mp4').then((v) => v.path),
    makeTestVideo(dir, { seconds: 10, width: 320, height: 240, audio: true, name: 'short.mp4' }),
  ]),
);
if (suite) {
  test.before(() => void ({ srv, browser, media: [video, shortVideo] } = suite));

  test('served at /: the page and its bundle, no CDN', async () => {
    const res = await fetch(srv.url + '/');
    assert.is(res.status, 200);
    assert.match(res.headers.get('content-type')!, 'text/html');
    assert.match(res.headers.get('content-security-policy')!, "default-src 'self'");
    const html = await res.text();
    assert.not.match(html, /https?:\/\//, 'no external URLs');
    const js = await fetch(srv.url + '/app.js');
    assert.is(js.status, 200);
    assert.match(js.headers.get('content-type')!, 'javascript');
    const again = await fetch(srv.url + '/app.js', { headers: { 'If-None-Match': js.headers.get('etag')! } });
    assert.is(again.status, 304);
    assert.is((await getJson(srv.url + '/nope.js')).status, 404);
  });

  test('upload and watch: progress moves, the storyboard timeline and highlights appear, a highlight plays exactly its span', async () => {
    const { page, problems } = await openPage(browser, srv.url);
    await waitSelector(page, srv.url, '#engine[data-ready="true"]', 30_000);
    // Slow the upload down so its progress is visible (1 MB/s), and ask for more highlights.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: 1_000_000 });
    await setInput(page, '#min-significance', '5');

    const samples: Array<{ up: number; an: number }> = [];
    await page.setInputFiles('#file', video);
    const until = Date.now() + 90_000;
    while (Date.now() < until) {
      const s = await page.evaluate(() => ({
        up: (document.getElementById('upload-progress') as HTMLProgressElement).value,
        an: (document.getElementById('analysis-progress') as HTMLProgressElement).value,
        done: !document.getElementById('results')!.hidden,
        error: document.getElementById('error')!.hidden ? null : document.getElementById('error')!.textContent,
      }));
      samples.push(s);
      assert.is(s.error, null);
      if (s.done) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const log = await vasLog(page);
    const ups = samples.map((s) => s.up);
    assert.ok(ups.some((v) => v > 0.05 && v < 0.95), `upload progress seen in between: ${[...new Set(ups)].slice(0, 20).join(', ')}`);
    assert.is(ups.at(-1), 1);
    for (let i = 1; i < samples.length; i++) {
      assert.ok(samples[i].up >= samples[i - 1].up && samples[i].an >= samples[i - 1].an, 'progress never goes back');
    }
    const analysis = log.filter((e) => e.kind === 'analysis').map((e) => e.value!);
    assert.ok(new Set(analysis).size >= 3, `analysis progress moved through ${analysis.join(', ')}`);
    assert.is(samples.at(-1)!.an, 1);
    assert.ok(log.some((e) => e.kind === 'segment'), 'segments arrived live');
    assert.ok(log.findIndex((e) => e.kind === 'segment') < log.findIndex((e) => e.kind === 'completed'), 'timeline filled before the end');

    // The address names the session.
    const id = log.find((e) => e.kind === 'session')!.detail!;
    assert.is(sessionInUrl(page), id);
    const r = await resultsOf(id);
    done = { id, results: r };
    assert.ok(r.highlights_found > 0, 'the test video has highlights at min_significance 5');

    // Timeline: every segment with its thumbnail and its score written on it, highlights starred.
    await waitFor(page, srv.url, 'every segment drawn', (n) => document.querySelectorAll('#lane .seg').length === n, r.total_segments_analyzed);
    assert.is(await page.locator('#lane .seg.hl').count(), r.highlights_found);
    assert.is(await page.locator('#lane .seg img.thumb').count(), r.all_analyses.filter((s: any) => s.thumbnail_url).length);
    assert.ok((await page.locator('#lane .seg img.thumb').count()) > 0, 'thumbnails drawn');
    const scores = await page.$$eval('#lane .seg', (els) => els.map((e) => ({ start: Number((e as HTMLElement).dataset.start), text: e.querySelector('.score')!.textContent })));
    for (const s of r.all_analyses) {
      const drawn = scores.find((x) => x.start === s.start_timestamp);
      assert.is(drawn?.text, String(s.significance_score), `score of the segment at ${s.start_timestamp} s written on it`);
    }
    // The score labels are readable on their colours (WCAG contrast at least 4.5).
    const contrasts = await page.$$eval('#lane .seg', (els) => {
      const lum = (c: string) => {
        const [r, g, b] = c.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((v) => {
          const x = Number(v) / 255;
          return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      return els.map((e) => {
        const [a, b] = [lum(getComputedStyle(e.querySelector('.score')!).color), lum(getComputedStyle(e.querySelector('.bar')!).backgroundColor)];
        return { score: e.querySelector('.score')!.textContent, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
      });
    });
    for (const c of contrasts) assert.ok(c.ratio >= 4.5, `score ${c.score} label contrast ${c.ratio.toFixed(2)}`);
    // The timeline and the list say the same time for a highlight (one formatter).
    const first = r.highlights[0];
    const seg = page.locator(`#lane .seg[data-start="${first.start_timestamp}"]`);
    const label = (await seg.getAttribute('aria-label'))!;
    const listed = await page.locator('#highlights li .when').first().textContent();
    assert.ok(label.startsWith(listed!), `timeline "${label}" and list "${listed}" agree`);
    // Axis ticks at round times; the legend shows the score scale with labels.
    const ticks = await page.$$eval('#axis .tick', (els) => els.map((e) => e.textContent));
    assert.ok(ticks.length >= 3, `ticks ${ticks}`);
    const secs = ticks.map((t) => Number(t!.slice(0, 2)) * 60 + Number(t!.slice(3)));
    const step = secs[1] - secs[0];
    assert.ok([1, 2, 5, 10, 15, 30, 60].includes(step) && secs.every((s, i) => s === i * step), `round ticks ${ticks}`);
    assert.equal(await page.$$eval('#legend .ramp-labels span', (els) => els.map((e) => e.textContent)), ['1', '5', '10']);

    // Downloads: each highlight's clip, the reel and the results JSON.
    const clips = await page.$$eval('#highlights a[download]', (els) => els.map((e) => (e as HTMLAnchorElement).href));
    assert.is(clips.length, r.highlights_found);
    for (const h of r.highlights) assert.ok(clips.some((c) => c.startsWith(srv.url + h.clip_url)), `a download of ${h.clip_url}`);
    const clip = await fetch(clips[0]);
    assert.is(clip.status, 200);
    assert.match(clip.headers.get('content-type')!, 'video/mp4');
    await clip.arrayBuffer();
    const reelHref = await page.getAttribute('#reel-download', 'href');
    assert.ok(reelHref!.startsWith(srv.url + r.reel_url), `reel link ${reelHref}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#results-json')]);
    assert.is(download.suggestedFilename(), `results-${id}.json`);
    const saved = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
    assert.is(saved.highlights_found, r.highlights_found);

    // Playing a highlight plays exactly its span (the chosen file is at hand) and stops at its end.
    await page.locator('#highlights li .play').first().click();
    await waitFor(page, srv.url, 'the highlight to stop', () => (window as any).__vas.log.some((e: { kind: string }) => e.kind === 'stopped'), null, 30_000);
    const st = await playerState(page);
    assert.ok(st.paused, 'paused at the end');
    assert.ok(st.t >= first.end_timestamp - 0.1 && st.t <= first.end_timestamp + 0.05, `stopped at ${st.t}, the span ends at ${first.end_timestamp}`);
    assert.not.ok(st.muted, 'sound is on');
    const played = (await vasLog(page)).find((e) => e.kind === 'play')!;
    assert.is(played.value, first.start_timestamp);
    // The current segment is marked and the playhead stands at the span's end.
    assert.is(await page.getAttribute('#lane .seg.current', 'data-start'), String(first.start_timestamp));
    const left = await page.$eval('#playhead', (el) => parseFloat((el as HTMLElement).style.left));
    assert.ok(Math.abs(left - (first.end_timestamp / r.video.duration) * 100) < 1, `playhead at ${left} %`);

    // The reel: the highlights one after another in time order, stopping at the last one's end
    // (played eight times as fast: the order and the stops are what is checked).
    await page.$eval('#player', (v) => ((v as HTMLVideoElement).playbackRate = 8));
    await page.click('#play-reel');
    await waitFor(page, srv.url, 'the reel to stop', () => (window as any).__vas.log.filter((e: { kind: string }) => e.kind === 'stopped').length === 2, null, 30_000);
    const inOrder = [...r.highlights].sort((a: any, b: any) => a.start_timestamp - b.start_timestamp);
    const reelLog = await vasLog(page);
    const reelStart = reelLog.map((e) => e.kind).lastIndexOf('play');
    assert.is(reelLog[reelStart].value, inOrder[0].start_timestamp);
    assert.equal(reelLog.slice(reelStart).filter((e) => e.kind === 'next-span').map((e) => e.value), inOrder.slice(1).map((h: any) => h.start_timestamp));
    const lastEnd = inOrder.at(-1).end_timestamp;
    const reelEnd = await playerState(page);
    assert.ok(reelEnd.paused && reelEnd.t >= lastEnd - 0.2 && reelEnd.t <= lastEnd + 0.05, `the reel stopped at ${reelEnd.t}, its last span ends at ${lastEnd}`);
    await page.$eval('#player', (v) => ((v as HTMLVideoElement).playbackRate = 1));

    // Hovering the board previews the storyboard tile of that moment.
    const box = (await page.locator('#board').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height / 2);
    await waitFor(page, srv.url, 'a storyboard preview', () => /storyboard/.test((document.getElementById('hover-pic') as HTMLElement).style.backgroundImage), null, 10_000);
    assert.match((await page.textContent('#hover-text'))!, /^00:1\d · score \d+$/);
    await page.locator('#lane .seg').first().scrollIntoViewIfNeeded();
    await screenshot(page, 'highlights-desktop');

    // Choosing the finished upload's file again (same settings) opens its session, no new upload.
    const before = (await getJson(`${srv.url}/api/v1/video/sessions?limit=100`)).body.sessions.length;
    await page.goto(srv.url + '/');
    // uploaded with min_significance 5 in this page (this browser's record of finished uploads)
    await setInput(page, '#min-significance', '5');
    await page.setInputFiles('#file', video);
    await waitSelector(page, srv.url, '#results:not([hidden])', 30_000);
    const again = await vasLog(page);
    assert.ok(again.some((e) => e.kind === 'reopen' && e.detail === id), 'reopened the finished session');
    assert.is(sessionInUrl(page), id);
    assert.is((await getJson(`${srv.url}/api/v1/video/sessions?limit=100`)).body.sessions.length, before, 'no new session');
    assert.equal(problems, []);
    await page.close();
  });

  test('pause and resume, then reload mid-upload and choose the file again: one session throughout', async () => {
    const { page, problems } = await openPage(browser, srv.url);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const throttle = (bytesPerSecond: number) =>
      cdp.send('Network.emulateNetworkConditions', { offline: false, latency: bytesPerSecond > 0 ? 5 : 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
    await throttle(400_000);
    await setInput(page, '#min-significance', '4'); // other settings: a new upload, not the first test's
    await page.setInputFiles('#file', video);
    await waitFor(page, srv.url, 'the upload under way', () => (document.getElementById('upload-progress') as HTMLProgressElement).value > 0.1, null);
    await page.click('#pause');
    assert.is(await page.textContent('#pause'), 'Resume');
    const id = sessionInUrl(page)!;
    assert.ok(id, 'the session is named in the address');
    // The server reports the bytes it stored (`upload` events); the page still says Paused.
    const stored = async () => (await getJson(`${srv.url}/api/v1/video/status/${id}`)).body.upload?.receivedBytes ?? 0;
    let last = -1;
    for (let now = await stored(); now !== last; now = await stored()) {
      last = now;
      await page.waitForTimeout(300); // polling the server until its count settles
    }
    assert.ok(last > 0, 'the server stored part of the file');
    assert.match((await page.textContent('#upload-text'))!, /^Paused at \d+ %$/);
    assert.match((await page.textContent('#analysis-text'))!, /^Waiting for the upload/);
    const log0 = await vasLog(page);
    const paused = log0.findIndex((e) => e.kind === 'pause');
    console.log(`  (server upload events after Pause: ${log0.slice(paused).filter((e) => e.kind === 'server-upload').length})`);
    await screenshot(page, 'paused');

    // Resume: the upload goes on from where it stopped.
    await throttle(150_000);
    const at = await page.$eval('#upload-progress', (el) => (el as HTMLProgressElement).value);
    await page.click('#pause');
    assert.is(await page.textContent('#pause'), 'Pause');
    await waitFor(page, srv.url, 'the upload moving again', (v) => (document.getElementById('upload-progress') as HTMLProgressElement).value > v + 0.05, at, 30_000);

    // Reload in the middle of it: the page shows the session, stopped; the same file resumes it.
    await page.reload();
    await waitFor(page, srv.url, 'the interrupted upload', () => /^Stopped at \d+ % when the page was left/.test(document.getElementById('upload-text')!.textContent!), null, 20_000);
    assert.is(sessionInUrl(page), id);
    await screenshot(page, 'reloaded-mid-upload');
    await throttle(-1);
    // the form is back at its defaults: the file resumes the session shown all the same
    await page.setInputFiles('#file', video);
    await waitSelector(page, srv.url, '#results:not([hidden])', 90_000);
    const log = await vasLog(page);
    assert.ok(log.some((e) => e.kind === 'resume'), 'resumed the upload');
    assert.equal([...new Set(log.filter((e) => e.kind === 'session').map((e) => e.detail))], [id], 'the same session');
    assert.is(sessionInUrl(page), id);
    assert.is((await resultsOf(id)).total_segments_analyzed, await page.locator('#lane .seg').count());
    assert.equal(problems, []);
    await page.close();
  });

  test('the live stream reconnects by itself (Last-Event-ID, then ?lastEventId=) and loses nothing', async () => {
    const { page, problems } = await openPage(browser, srv.url);
    const seen: Array<{ url: string }> = [];
    await page.route('**/api/v1/video/events/**', async (route) => {
      seen.push({ url: route.request().url() });
      if (seen.length === 1) {
        // A stream that delivers the first event and then breaks: the browser reconnects itself.
        await route.fulfill({
          status: 200,
          headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
          body: 'retry: 100\n\nid: 1\nevent: status\ndata: {"status":"uploading"}\n\n',
        });
      } else if (seen.length === 2) {
        // A proxy error: EventSource gives up, the page reconnects with ?lastEventId=.
        await route.fulfill({ status: 503, contentType: 'text/plain', body: 'upstream unavailable' });
      } else {
        await route.continue();
      }
    });
    await page.setInputFiles('#file', shortVideo);
    await waitSelector(page, srv.url, '#results:not([hidden])', 60_000);
    assert.ok(seen.length >= 3, `${seen.length} stream requests`);
    assert.not.match(seen[1].url, /lastEventId/, 'the browser reconnected on its own');
    assert.match(seen[2].url, /[?&]lastEventId=1\b/, 'the page resumed with ?lastEventId=');
    const log = await vasLog(page);
    assert.ok(log.some((e) => e.kind === 'sse-error'));
    const id = log.find((e) => e.kind === 'session')!.detail!;
    assert.is(await page.locator('#lane .seg').count(), (await resultsOf(id)).total_segments_analyzed);
    const segs = log.filter((e) => e.kind === 'segment').map((e) => e.value);
    assert.equal(segs, [...new Set(segs)], 'no segment delivered twice');
    assert.equal(problems, []);
    await page.close();
  });

  test('a session link shows that session; its highlight plays from the server clip and stops at its end', async () => {
    assert.ok(done, 'the first test finished a session');
    const { id, results: r } = done!;
    const { page, problems } = await openPage(browser, srv.url, `/?session=${id}`);
    await waitSelector(page, srv.url, '#results:not([hidden])', 30_000);
    assert.is(await page.textContent('#analysis-text'), 'Completed');
    assert.is(await page.locator('#lane .seg').count(), r.total_segments_analyzed);
    assert.is(await page.locator('#highlights li').count(), r.highlights_found);
    assert.match((await page.textContent('#file-name'))!, /match\.mp4/);
    // No file at hand: the player shows nothing until a clip is played.
    assert.ok(await page.locator('#player-wrap').isHidden());
    const h = r.highlights[0];
    await page.locator('#highlights li .play').first().click();
    await waitFor(page, srv.url, 'the clip to end', () => (window as any).__vas.log.some((e: { kind: string }) => e.kind === 'stopped'), null, 30_000);
    const st = await playerState(page);
    assert.ok(st.src.includes(h.clip_url), `played ${st.src}`);
    assert.ok(st.paused);
    const span = h.end_timestamp - h.start_timestamp;
    assert.ok(Math.abs(st.t - span) < 0.25, `the clip played to its end: ${st.t} of ${span} s`);
    assert.is(await page.getAttribute('#lane .seg.current', 'data-start'), String(h.start_timestamp));
    await screenshot(page, 'session-link');
    // The keyboard reaches the timeline: focusing a segment previews it, Enter plays it.
    const firstSeg = r.all_analyses[0];
    await page.focus(`#lane .seg[data-start="${firstSeg.start_timestamp}"]`);
    assert.ok(await page.locator('#hover').isVisible(), 'focus previews like hovering');
    await page.keyboard.press('Enter');
    await waitFor(page, srv.url, 'the focused segment to play', (t) => (window as any).__vas.log.some((e: { kind: string; value?: number }) => e.kind === 'play' && e.value === t), firstSeg.start_timestamp, 10_000);
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'session-link-dark');

    // A link to a session the server does not have says so.
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${srv.url}/?session=${'A'.repeat(21)}`);
    await waitSelector(page, srv.url, '#error:not([hidden])', 10_000);
    assert.is(await page.textContent('#error'), 'This session no longer exists on the server.');
    assert.ok(await page.locator('#timeline-card').isHidden());

    assert.equal(problems, []);
    await page.close();
  });
}

test.run();
