// The web page in headless Chromium (Debian's `chromium`, driven by playwright-core) for the web
// tests: launching it, opening the page with its problems collected, waiting with an
// explanation, the page's own log (window.__vas.log) and screenshots kept as test artifacts
// (in $TEST_ARTIFACTS, else a temporary folder; the path is printed), and the page test files'
// shared hooks (webSuite).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import { getJson, startTestServer, tempDir, type TestServer } from './server.js';

export const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // the tests click to play; sound must be allowed as it is after a user's click
  '--autoplay-policy=no-user-gesture-required',
];

export const launch = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });

export interface LogEntry {
  t: number;
  kind: string;
  value?: number;
  detail?: string;
}

let artifactsDir: string | null = null;
/** Where screenshots go: $TEST_ARTIFACTS, else a temporary folder (printed once). */
export function artifacts(): string {
  if (!artifactsDir) {
    artifactsDir = process.env.TEST_ARTIFACTS ? path.resolve(process.env.TEST_ARTIFACTS) : fs.mkdtempSync(path.join(os.tmpdir(), 'vas-web-'));
    fs.mkdirSync(artifactsDir, { recursive: true });
    console.log(`screenshots in ${artifactsDir}`);
  }
  return artifactsDir;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  // transitions finished: the picture shows the state the test reached
  await page.screenshot({ path: path.join(artifacts(), `${name}.png`), fullPage: true, animations: 'disabled' });
}

export interface OpenedPage {
  page: Page;
  /** Page errors, console errors and CSP violations seen so far. */
  problems: string[];
}

/** Opens `url` (relative to the server) in a new page, collecting what goes wrong in it. */
export async function openPage(browser: Browser, base: string, url = '/', viewport = { width: 1100, height: 900 }): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  if (process.env.PAGE_DEBUG) {
    page.on('console', (m) => console.error(`[page ${m.type()}] ${m.text()}`));
    page.on('requestfailed', (r) => console.error(`[page requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => console.error(`[page response] ${r.status()} ${r.request().method()} ${r.url()}`));
  }
  page.on('console', (m) => {
    // The browser logs failed requests as errors: the ones the tests provoke on purpose, and
    // media requests cut short when a clip is replaced by another.
    if (m.type() === 'error' && !/Failed to load resource|EventSource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(base + url);
  return { page, problems };
}

/** waitForFunction, failing with what the page shows (progress, errors, the end of its log). */
export async function waitFor(page: Page, base: string, what: string, fn: (arg: any) => unknown, arg: unknown, timeout = 60_000): Promise<void> {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  } catch (err) {
    const state = await page
      .evaluate(() => ({
        url: location.href,
        run: document.getElementById('run')?.innerText,
        log: (window as unknown as { __vas?: { log: unknown[] } }).__vas?.log.slice(-12),
      }))
      .catch(() => null);
    const health = await getJson(`${base}/health`).catch(() => null);
    throw new Error(`waiting for ${what}: ${(err as Error).message.split('\n')[0]}\npage: ${JSON.stringify(state)}\nhealth: ${JSON.stringify(health?.body?.engine)}`);
  }
}

export const waitSelector = (page: Page, base: string, selector: string, timeout = 60_000) =>
  waitFor(page, base, selector, (s) => !!document.querySelector(s), selector, timeout);

export const vasLog = (page: Page): Promise<LogEntry[]> => page.evaluate(() => (window as unknown as { __vas: { log: LogEntry[] } }).__vas.log);

/** The session id the page's address names. */
export const sessionInUrl = (page: Page) => new URL(page.url()).searchParams.get('session');

/** Sets the page's settings form before choosing a file. */
export async function setInput(page: Page, selector: string, value: string): Promise<void> {
  await page.$eval(
    selector,
    (el, v) => {
      (el as HTMLInputElement).value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    },
    value,
  );
}

export interface WebSuite<M> {
  /** Set once the before hook ran. */
  srv: TestServer;
  browser: Browser;
  media: M;
}

/**
 * The hooks both page test files share: before their tests, their media made in a temporary
 * folder, a server (one engine slot) and Chromium started; after them, all closed and deleted.
 * Without Chromium: null, the reason printed and one skipped test registered.
 */
export function webSuite<M>(file: string, makeMedia: (dir: string) => Promise<M>): WebSuite<M> | null {
  if (!CHROMIUM) {
    console.log(`SKIP ${file}: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH); CI installs it with WITH_BROWSER=1 scripts/setup.sh`);
    test.skip('the page in a browser (no Chromium installed)', () => {});
    return null;
  }
  const suite = {} as WebSuite<M>;
  let dir: string | null = null;
  test.before(async () => {
    dir = tempDir();
    suite.media = await makeMedia(dir);
    suite.srv = await startTestServer({ ENGINE_CONCURRENCY: '1' });
    suite.browser = await launch();
  });
  test.after(async () => {
    await suite.browser?.close();
    await suite.srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return suite;
}
