// The service's web page: choose or drop a video, upload it with tus (pausable, resumable),
// follow the analysis live, and see the storyboard timeline, the highlights (or the workout's
// sets) and the downloads; the URL names the session shown (/?session=ID), and /?view=sessions
// lists the service's sessions. This module only wires things together: the API client is
// api.ts, one session's state run.ts, the rendering view/*.
import type { AnalysisType } from '../client/src/browser.js';
import { sessionLink } from './api.js';
import { $, reducedMotion, show } from './dom.js';
import { log, note, Run, type Change } from './run.js';
import { Player } from './view/player.js';
import { renderProgress, resetProgress } from './view/progress.js';
import { renderResults } from './view/results.js';
import { SessionsView } from './view/sessions.js';
import { Timeline } from './view/timeline.js';

(window as unknown as { __vas: unknown }).__vas = { log };

const form = $<HTMLFormElement>('form');
const player = new Player();
const timeline = new Timeline(player);
const sessions = new SessionsView();
let current: Run | null = null;

// ---- settings ---------------------------------------------------------------------------------
const analysisType = () => ((new FormData(form).get('analysis_type') as string) || 'highlights') as AnalysisType;
function settings(): Record<string, number> {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  return analysisType() === 'workout'
    ? { segment_duration: num('segment-duration') }
    : { min_significance: num('min-significance'), max_highlights: num('max-highlights') };
}
function syncSettings() {
  const type = analysisType();
  for (const el of form.querySelectorAll<HTMLElement>('[data-for]')) el.hidden = el.dataset.for !== type;
  $('min-significance-out').textContent = $<HTMLInputElement>('min-significance').value;
}
form.addEventListener('input', syncSettings);
syncSettings();

// ---- engine badge (polled until the engine is ready) ----------------------------------------
async function checkEngine(): Promise<void> {
  const badge = $('engine');
  try {
    const r = await fetch('/health');
    const hb = (await r.json()) as { engine?: { name: string; ready: boolean; model?: string | null; state?: string; detail?: string | null } };
    const e = hb.engine;
    badge.textContent = e ? `Engine: ${e.model ?? e.name} · ${e.ready ? 'ready' : (e.state ?? 'starting')}` : 'Engine: unknown';
    if (e?.detail && !e.ready) badge.title = e.detail;
    badge.dataset.ready = String(Boolean(e?.ready));
    if (e?.ready) return;
  } catch {
    badge.textContent = 'Service unreachable';
    badge.dataset.ready = 'false';
  }
  window.setTimeout(() => void checkEngine(), 3000);
}
void checkEngine();

// ---- one run on screen --------------------------------------------------------------------------
function redraw(run: Run, c: Change): void {
  if (run !== current) return;
  renderProgress(run);
  if (c === 'session' && run.sessionId) {
    const link = $<HTMLAnchorElement>('session-link');
    link.href = sessionLink(run.sessionId);
    show(link);
    // the address names the session shown: reloading or sharing it shows it again
    const q = new URLSearchParams(location.search);
    if (q.get('view') !== 'sessions' && q.get('session') !== run.sessionId) history.pushState(null, '', sessionLink(run.sessionId));
  }
  if (c === 'segments' || c === 'results' || c === 'session' || c === 'error') {
    // nothing to show for a file that could not be read
    show($('timeline-card'), run.duration > 0 || (player.hasFile && !run.error));
    timeline.render(run);
  }
  if (c === 'results' && run.results && run.sessionId) renderResults(run.results, run.sessionId, player);
}

function open(run: Run): void {
  current?.detach();
  current = run;
  resetProgress();
  timeline.reset();
  show($('results'), false);
  show($('session-link'), false);
  player.setFile(run.file);
  show($('timeline-card'), !!run.file);
  renderProgress(run);
  run.onChange((c) => redraw(run, c));
  void run.start().catch((err: Error) => {
    run.error = err.message;
    renderProgress(run);
  });
}

async function begin(file: File | undefined): Promise<void> {
  if (!file) return;
  showView('analyse');
  let run: Run;
  try {
    const interrupted = current?.upload.state === 'interrupted' ? current.sessionId : null;
    run = await Run.forFile(file, analysisType(), settings(), interrupted);
  } catch (err) {
    note('error', undefined, (err as Error).message);
    return;
  }
  open(run);
  $('run').scrollIntoView({ behavior: reducedMotion() ? 'auto' : 'smooth', block: 'start' });
}

$<HTMLInputElement>('file').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  void begin(input.files?.[0]);
  input.value = ''; // choosing the same file again is a new choice
});
$('pause').addEventListener('click', () => current?.togglePause());
$('cancel').addEventListener('click', () => void current?.cancel());
player.el.addEventListener('loadedmetadata', () => current && timeline.render(current));

const drop = $('drop');
for (const ev of ['dragenter', 'dragover'] as const) {
  drop.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
for (const ev of ['dragleave', 'drop'] as const) drop.addEventListener(ev, () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  void begin(e.dataTransfer?.files?.[0]);
});
// A file dropped anywhere else must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

// ---- views and the address ------------------------------------------------------------------------
function showView(view: 'analyse' | 'sessions'): void {
  show($('analyse-view'), view === 'analyse');
  show($('sessions-view'), view === 'sessions');
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (view === 'sessions') void sessions.open();
  else sessions.close();
}

/** Shows what the address names: the sessions view, a session, or the chooser. */
function route(): void {
  const q = new URLSearchParams(location.search);
  if (q.get('view') === 'sessions') return showView('sessions');
  showView('analyse');
  const id = q.get('session');
  if (id && current?.sessionId !== id) {
    note('open-link', undefined, id);
    open(Run.forSession(id));
  }
}

// Links inside the page (the nav, the sessions list) change the view without leaving the page,
// so a running upload goes on.
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname !== '/') return;
  e.preventDefault();
  if (url.search !== location.search) history.pushState(null, '', url.pathname + url.search);
  route();
});
window.addEventListener('popstate', route);
route();
