// The sessions view: recent sessions of the service (GET /sessions) like a job dashboard, with
// their status, type, video duration, what was found, live progress of the running ones, and
// cancel and delete. Running sessions are re-read every second while the view is open.
import type { AnalysisResult, SessionPage } from '../../client/src/browser.js';
import { client, sessionLink } from '../api.js';
import { $, h, show } from '../dom.js';
import { clock, count, pct, when } from '../format.js';
import { note } from '../run.js';

type Item = SessionPage['sessions'][number];
const ACTIVE = new Set(['uploading', 'pending', 'processing']);
/** Results of completed sessions never change: read once. */
const found = new Map<string, AnalysisResult | null>();

export class SessionsView {
  private readonly body = $('sessions-body');
  private readonly status = $('sessions-status');
  private timer = 0;
  private cursor: string | null = null;
  private rows: Item[] = [];

  constructor() {
    $('sessions-refresh').addEventListener('click', () => void this.load());
    $('sessions-more').addEventListener('click', () => void this.load(true));
  }

  private opened = false;

  async open(): Promise<void> {
    this.opened = true;
    await this.load();
  }

  /** Stops re-reading while the view is not shown. */
  close(): void {
    this.opened = false;
    clearTimeout(this.timer);
  }

  private async load(more = false): Promise<void> {
    clearTimeout(this.timer);
    let page: SessionPage;
    try {
      page = await client.list({ limit: 20, cursor: more ? this.cursor : null });
    } catch (err) {
      this.status.textContent = `Could not list the sessions: ${(err as Error).message}`;
      return;
    }
    this.rows = more ? [...this.rows, ...page.sessions] : mergeHead(page.sessions, this.rows);
    if (!more) this.cursor ??= page.nextCursor;
    else this.cursor = page.nextCursor;
    show($('sessions-more'), !!this.cursor);
    await Promise.all(this.rows.filter((s) => s.status === 'completed' && !found.has(s.sessionId)).map((s) => readResults(s.sessionId)));
    this.render();
    if (this.opened && this.rows.some((s) => ACTIVE.has(s.status))) this.timer = window.setTimeout(() => void this.load(), 1000);
  }

  private render(): void {
    this.status.textContent = this.rows.length ? `${count(this.rows.length, 'session')}${this.rows.some((s) => ACTIVE.has(s.status)) ? ' · updating live' : ''}` : 'No sessions yet.';
    this.body.replaceChildren(...this.rows.map((s) => this.row(s)));
    note('sessions', this.rows.length);
  }

  private row(s: Item): HTMLElement {
    const r = found.get(s.sessionId);
    const name = s.filename ?? s.sessionId;
    const open = h('a', { class: 'link', href: sessionLink(s.sessionId) }, name);
    const active = ACTIVE.has(s.status);
    const progress = active
      ? h('span', { class: 'cell-progress' }, progressBar(s), h('span', { class: 'muted' }, s.status === 'uploading' && s.upload?.totalBytes ? `upload ${pct(s.upload.receivedBytes / s.upload.totalBytes)}` : pct(s.progress)))
      : s.status === 'failed'
        ? h('span', { class: 'bad' }, s.error?.message ?? 'failed')
        : h('span', { class: 'muted' }, s.status === 'completed' ? '100 %' : '–');
    const dur = r ? clock(r.video.duration) : '–';
    const what = r ? (r.analysis_type === 'highlights' ? count(r.highlights_found, 'highlight') : `${count(r.summary.total_exercises_identified, 'set')}, ${count(r.summary.total_reps, 'rep')}`) : '–';
    const cancel = h('button', { type: 'button', class: 'btn btn-quiet', 'aria-label': `Cancel ${name}` }, 'Cancel');
    cancel.hidden = !active;
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      await client.cancel(s.sessionId).catch((err: Error) => (this.status.textContent = err.message));
      await this.load();
    });
    const del = h('button', { type: 'button', class: 'btn btn-danger', 'aria-label': `Delete ${name}` }, 'Delete');
    del.addEventListener('click', async () => {
      if (!confirm(`Delete “${name}” and its results?`)) return;
      del.disabled = true;
      await client.cleanup(s.sessionId).catch((err: Error) => (this.status.textContent = err.message));
      this.rows = this.rows.filter((x) => x.sessionId !== s.sessionId);
      found.delete(s.sessionId);
      this.render();
    });
    return h(
      'tr',
      { 'data-session': s.sessionId, 'data-status': s.status },
      h('th', { scope: 'row' }, open),
      h('td', {}, s.analysisType === 'workout' ? 'Workout' : 'Highlights'),
      h('td', {}, h('span', { class: 'pill', 'data-state': s.status }, s.status)),
      h('td', {}, progress),
      h('td', { class: 'num' }, dur),
      h('td', {}, what),
      h('td', { class: 'num' }, h('time', { datetime: s.createdAt }, when(s.createdAt))),
      h('td', {}, h('div', { class: 'row-actions' }, cancel, del)),
    );
  }
}

function progressBar(s: Item): HTMLProgressElement {
  const p = h('progress', { max: '1', 'aria-label': `Progress of ${s.filename ?? s.sessionId}` });
  p.value = s.status === 'uploading' && s.upload?.totalBytes ? s.upload.receivedBytes / s.upload.totalBytes : s.progress;
  return p;
}

async function readResults(id: string): Promise<void> {
  found.set(id, await client.results(id).catch(() => null));
}

/** The fresh first page, then what was loaded beyond it. */
function mergeHead(head: Item[], old: Item[]): Item[] {
  const ids = new Set(head.map((s) => s.sessionId));
  const lastHead = head.at(-1)?.createdAt ?? '';
  return [...head, ...old.filter((s) => !ids.has(s.sessionId) && s.createdAt < lastHead)];
}
