// The web page in headless Chromium (Debian's `chromium`, driven by playwright-core): choose a
// video, watch the upload and the analysis progress move, the timeline and the highlights appear;
// and the live stream reconnecting by itself after it breaks. Skipped, with the reason printed,
// only when no Chromium is installed (CI installs it: WITH_BROWSER=1 scripts/setup.sh).
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeHighlightsVideo, makeTestVideo } from '../helpers/media.js';
import { ROOT, getJson, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

let srv: TestServer;
let browser: Browser;
let dir: string;
let video: string;
let shortVideo: string;

interface LogEntry {
  t: number;
  kind: string;
  value?: number;
  detail?: string;
}

/** Opens the page, collecting console errors, page errors and CSP violations. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  if (process.env.PAGE_DEBUG) {
    page.on('console', (m) => console.error(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => console.error(`[page pageerror] ${e.stack}`));
    page.on('requestfailed', (r) => console.error(`[page requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => console.error(`[page response] ${r.status()} ${r.request().method()} ${r.url()}`));
  }
  page.on('console', (m) => {
    // The browser logs failed requests we provoke on purpose (the reconnect test) as errors.
    if (m.type() === 'error' && !/Failed to load resource|EventSource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(srv.url + '/');
  return { page, problems };
}

/** waitForSelector, failing with what the page shows (engine, progress, errors, its log). */
async function waitOrExplain(page: Page, selector: string, timeout: number): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout });
  } catch (err) {
    const state = await page.evaluate(() => ({
      engine: document.getElementById('engine')?.textContent,
      run: document.getElementById('run')?.innerText,
      log: (window as unknown as { __vas?: { log: unknown[] } }).__vas?.log.slice(-15),
    }));
    const health = await getJson(`${srv.url}/health`);
    throw new Error(`${(err as Error).message.split('\n')[0]}\npage: ${JSON.stringify(state)}\nhealth: ${JSON.stringify(health.body)}`);
  }
}

const vasLog = (page: Page) => page.evaluate(() => (window as unknown as { __vas: { log: LogEntry[] } }).__vas.log);

if (!CHROMIUM) {
  console.log('SKIP test/web/page.test: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH); CI installs it with WITH_BROWSER=1 scripts/setup.sh');
  test.skip('the page in a browser (no Chromium installed)', () => {});
} else {
  test.before(async () => {
    dir = tempDir();
    [video, shortVideo] = await Promise.all([
      makeHighlightsVideo(dir, 'match.mp4').then((v) => v.path),
      makeTestVideo(dir, { seconds: 10, width: 320, height: 240, audio: true, name: 'short.mp4' }),
    ]);
    srv = await startTestServer({ ENGINE_CONCURRENCY: '1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  test.after(async () => {
    await browser?.close();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

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

  test('choose a video: upload and analysis progress move, the timeline and highlights appear', async () => {
    const { page, problems } = await openPage();
    await waitOrExplain(page, '#engine[data-ready="true"]', 30_000);
    // Slow the upload down so its progress is visible (1 MB/s), and ask for more highlights.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: 1_000_000 });
    await page.$eval('#min-significance', (el) => {
      (el as HTMLInputElement).value = '5';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });

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
    const log = await vasLog(page);
    const ups = samples.map((s) => s.up);
    assert.ok(ups.some((v) => v > 0.05 && v < 0.95), `upload progress seen in between: ${[...new Set(ups)].slice(0, 20).join(', ')}`);
    assert.is(ups.at(-1), 1);
    for (let i = 1; i < samples.length; i++) {
      assert.ok(samples[i].up >= samples[i - 1].up && samples[i].an >= samples[i - 1].an, 'progress never goes back');
    }
    const analysis = log.filter((e) => e.kind === 'analysis').map((e) => e.value!);
    assert.ok(new Set(analysis).size >= 3, `analysis progress moved through ${analysis.join(', ')}`);
    assert.ok(analysis.some((v) => v > 0 && v < 1));
    assert.is(samples.at(-1)!.an, 1);
    assert.ok(log.some((e) => e.kind === 'segment'), 'segments arrived live');
    assert.ok(log.findIndex((e) => e.kind === 'segment') < log.findIndex((e) => e.kind === 'completed'), 'timeline filled before the end');

    // The timeline and the results agree with the API.
    const sessionId = log.find((e) => e.kind === 'session')!.detail!;
    const { body } = await getJson(`${srv.url}/api/v1/video/results/${sessionId}`);
    const r = body.results;
    assert.ok(r.highlights_found > 0, 'the test video has highlights at min_significance 5');
    await page.waitForFunction((n) => document.querySelectorAll('#timeline .seg').length === n, r.total_segments_analyzed);
    assert.is(await page.locator('#timeline .seg.hl').count(), r.highlights_found);
    assert.is(await page.locator('#highlights li').count(), r.highlights_found);
    assert.is(await page.locator('#conn').textContent(), 'Done');
    const firstLabel = await page.locator('#timeline .seg').first().getAttribute('aria-label');
    assert.match(firstLabel!, /^00:00–\d\d:\d\d, score \d+/);
    // Selecting a highlight seeks the preview.
    await page.locator('#highlights li button').first().click();
    const t = await page.$eval('#preview', (v) => (v as HTMLVideoElement).currentTime);
    assert.ok(Math.abs(t - r.highlights[0].start_timestamp) < 1, `seeked to ${t}`);
    await page.$eval('#preview', (v) => (v as HTMLVideoElement).pause());
    await page.evaluate(() => (document.getElementById('preview') as HTMLVideoElement).currentTime = 0);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
    assert.equal(problems, []);
    await page.close();
  });

  test('the live stream reconnects by itself (Last-Event-ID, then ?lastEventId=) and loses nothing', async () => {
    const { page, problems } = await openPage();
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
    await waitOrExplain(page, '#results:not([hidden])', 60_000);
    assert.ok(seen.length >= 3, `${seen.length} stream requests`);
    // The browser reconnected by itself (it sends Last-Event-ID, though Chromium adds that header
    // below what request interception reports), then the page did, with the id in the URL.
    assert.not.match(seen[1].url, /lastEventId/, 'the browser reconnected on its own');
    assert.match(seen[2].url, /[?&]lastEventId=1\b/, 'the page resumed with ?lastEventId=');
    const log = await vasLog(page);
    assert.ok(log.some((e) => e.kind === 'sse-error'));
    const sessionId = log.find((e) => e.kind === 'session')!.detail!;
    const { body } = await getJson(`${srv.url}/api/v1/video/results/${sessionId}`);
    assert.is(await page.locator('#timeline .seg').count(), body.results.total_segments_analyzed);
    const segs = log.filter((e) => e.kind === 'segment').map((e) => e.value);
    assert.equal(segs, [...new Set(segs)], 'no segment delivered twice');
    assert.equal(problems, []);
    await page.close();
  });
}

test.run();
