// The service's web page: choose or drop a video, upload it with tus (resumable, retried on
// network drops), follow the analysis live over Server-Sent Events (reconnecting with
// Last-Event-ID / ?lastEventId= when the stream breaks), draw the segments on a timeline coloured
// by score, and show the results. The API calls go through the service's client (client/); no
// framework: a few DOM helpers.
import type { PreviousUpload } from 'tus-js-client';
import { VideoClient, type AnalysisType, type ClientEvent, type Following, type TusUploadHandle } from '../client/src/browser.js';

const API = '/api/v1/video';

interface Segment {
  index: number;
  start_timestamp: number;
  end_timestamp: number;
  timestamp_formatted?: string;
  significance_score?: number;
  description?: string;
  exercise_name?: string;
  movement_phase?: string;
  is_transition?: boolean;
  rep_count?: number;
}

interface Results {
  analysis_type: string;
  engine?: { name: string; model: string | null };
  video?: { duration: number; width: number; height: number };
  processing_time_seconds?: number;
  total_segments_analyzed?: number;
  highlights_found?: number;
  highlights?: Segment[];
  all_analyses?: Segment[];
  settings?: { min_significance?: number };
  segment_analyses?: Segment[];
  exercise_steps?: Array<{ exercise_name: string; start_timestamp: number; end_timestamp: number; timestamp_formatted: string; rep_count?: number; description?: string }>;
  summary?: { total_exercises_identified?: number; total_reps?: number; video_duration_formatted?: string };
}

// ---- small DOM helpers --------------------------------------------------------------------
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Array<Node | string>) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) el.setAttribute(k, v);
  el.append(...children);
  return el;
}
const show = (el: HTMLElement, on = true) => (el.hidden = !on);

const fmtBytes = (n: number) => {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) (n /= 1000), i++;
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${u[i]}`;
};
const fmtTime = (s: number) => {
  const t = Math.max(0, Math.round(s));
  const m = Math.floor(t / 60);
  return `${String(m).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
};
const pct = (x: number) => `${Math.round(x * 100)} %`;

/** Score 1..10 → a colour from cool blue (quiet) to hot orange-red (significant). */
export function scoreColour(score: number): string {
  const t = Math.min(1, Math.max(0, (score - 1) / 9));
  const hue = 222 - t * 210;
  const light = 62 - t * 10;
  return `hsl(${hue.toFixed(0)} 78% ${light.toFixed(0)}%)`;
}
const hueOf = (name: string) => [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 360, 7);

// ---- auth: ?token= on the page URL is kept for this tab and sent along --------------------
const token = (() => {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) sessionStorage.setItem('vas-token', fromUrl);
  return fromUrl ?? sessionStorage.getItem('vas-token');
})();
const client = new VideoClient({ token });
const withToken = (url: string) => (token ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : url);

// ---- a record of what the page showed, for tests and debugging ----------------------------
interface LogEntry {
  t: number;
  kind: string;
  value?: number;
  detail?: string;
}
const log: LogEntry[] = [];
const note = (kind: string, value?: number, detail?: string) => log.push({ t: Math.round(performance.now()), kind, value, detail });
(window as unknown as { __vas: unknown }).__vas = { log };

// ---- elements -------------------------------------------------------------------------------
const form = $<HTMLFormElement>('form');
const fileInput = $<HTMLInputElement>('file');
const drop = $('drop');
const runCard = $('run');
const uploadBar = $<HTMLProgressElement>('upload-progress');
const uploadText = $('upload-text');
const analysisBar = $<HTMLProgressElement>('analysis-progress');
const analysisText = $('analysis-text');
const conn = $('conn');
const errorBox = $('error');
const pauseBtn = $<HTMLButtonElement>('pause');
const cancelBtn = $<HTMLButtonElement>('cancel');
const timelineCard = $('timeline-card');
const timeline = $('timeline');
const axis = $('axis');
const preview = $<HTMLVideoElement>('preview');
const resultsCard = $('results');

// ---- settings -------------------------------------------------------------------------------
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

// ---- engine badge (polled until the engine is ready) ------------------------------------
async function checkEngine(): Promise<void> {
  const badge = $('engine');
  try {
    const r = await fetch('/health');
    const hb = (await r.json()) as { engine?: { name: string; ready: boolean; model?: string | null; state?: string; detail?: string | null } };
    const e = hb.engine;
    badge.textContent = e ? `Engine: ${e.model ?? e.name} · ${e.ready ? 'ready' : e.state ?? 'starting'}` : 'Engine: unknown';
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

// ---- one run: upload, then follow -----------------------------------------------------------
class Run {
  upload: TusUploadHandle | null = null;
  sessionId: string | null = null;
  paused = false;
  finished = false;
  uploadDone = false;
  segments = new Map<number, Segment>();
  highlightKeys = new Set<string>();
  duration = 0;
  private following: Following | null = null;
  private speed = { bytes: 0, t: 0, rate: 0 };
  private previewUrl: string;

  constructor(readonly file: File) {
    this.previewUrl = URL.createObjectURL(file);
  }

  start() {
    resetUi(this.file);
    preview.src = this.previewUrl;
    preview.addEventListener('loadedmetadata', () => {
      if (Number.isFinite(preview.duration)) this.duration ||= preview.duration;
      this.renderTimeline();
    }, { once: true });

    const type = analysisType();
    const params = settings();
    const upload = client.tusUpload(this.file, {
      analysisType: type,
      params,
      filename: this.file.name,
      onSessionId: (id) => {
        this.sessionId = id;
        note('session', undefined, id);
        this.follow();
      },
      onProgress: (sent, total) => this.onUploadProgress(sent, total),
      tus: {
        metadata: { filetype: this.file.type || 'application/octet-stream' },
        onShouldRetry: (err, attempt) => {
          const status = err.originalResponse?.getStatus() ?? 0;
          const retry = status === 0 || status >= 500 || status === 409 || status === 423;
          if (retry) uploadText.textContent = `Connection lost — retrying (${attempt + 1})…`;
          return retry;
        },
      },
    });
    upload.done.then(
      () => {
        this.uploadDone = true;
        this.onUploadProgress(this.file.size, this.file.size);
        uploadText.textContent = `${fmtBytes(this.file.size)} · done`;
        pauseBtn.disabled = true;
        note('upload-done');
      },
      (err: Error) => this.fail(`The upload failed: ${shortError(err)}`),
    );
    this.upload = upload;
    // Same file and same settings as an unfinished upload of this browser: resume it.
    const paramsText = JSON.stringify(params);
    upload.upload
      .findPreviousUploads()
      .then((prev: PreviousUpload[]) => {
        const same = prev.find((p) => p.metadata.analysis_type === type && p.metadata.params === paramsText);
        if (same) {
          upload.upload.resumeFromPreviousUpload(same);
          note('resume', undefined, same.uploadUrl ?? '');
        }
      })
      .catch(() => {})
      .finally(() => upload.start());
  }

  private onUploadProgress(sent: number, total: number) {
    const now = performance.now();
    const s = this.speed;
    if (s.t && now > s.t) s.rate = 0.7 * s.rate + (0.3 * (sent - s.bytes) * 1000) / (now - s.t);
    s.bytes = sent;
    s.t = now;
    const frac = total ? sent / total : 0;
    if (frac < uploadBar.value && !this.uploadDone) return;
    uploadBar.value = frac;
    uploadBar.setAttribute('aria-valuetext', pct(frac));
    if (!this.uploadDone) {
      uploadText.textContent = `${fmtBytes(sent)} of ${fmtBytes(total)} · ${pct(frac)}${s.rate > 0 && frac < 1 ? ` · ${fmtBytes(s.rate)}/s` : ''}`;
    }
    note('upload', frac);
  }

  togglePause() {
    if (!this.upload || this.uploadDone) return;
    this.paused = !this.paused;
    if (this.paused) {
      void this.upload.upload.abort();
      pauseBtn.textContent = 'Resume';
      uploadText.textContent = `Paused at ${pct(uploadBar.value)}`;
    } else {
      pauseBtn.textContent = 'Pause';
      this.upload.start();
    }
  }

  async cancel() {
    this.finished = true;
    this.closeStream();
    if (this.upload && !this.uploadDone) await this.upload.abort(true).catch(() => {});
    else if (this.sessionId) await client.cancel(this.sessionId).catch(() => {});
    analysisText.textContent = 'Cancelled';
    uploadText.textContent = this.uploadDone ? uploadText.textContent : 'Cancelled';
    setConn('idle', 'Stopped');
    pauseBtn.disabled = cancelBtn.disabled = true;
  }

  // ---- live events: SSE through the client, which resumes after the last event it passed on ----
  follow() {
    if (this.finished || !this.sessionId) return;
    this.closeStream();
    const following = client.follow(this.sessionId, {
      onEvent: (ev) => this.onEvent(ev),
      onConnection: (state) => {
        if (this.finished) return;
        if (state === 'connecting') setConn('connecting', this.following?.lastSeq ? 'Reconnecting…' : 'Connecting…');
        else if (state === 'open') {
          setConn('live', 'Live');
          note('sse-open', this.following?.lastSeq ?? 0);
        } else if (state === 'reconnecting') {
          setConn('connecting', 'Reconnecting…');
          note('sse-error');
        }
      },
    });
    this.following = following;
    following.done.catch((err: Error & { status?: number }) => {
      if (this.finished || this.following !== following) return;
      this.fail(err.status === 404 ? 'This session no longer exists on the server.' : `The live stream stopped: ${err.message}`);
    });
  }

  private closeStream() {
    this.following?.close();
    this.following = null;
  }

  private onEvent(ev: ClientEvent) {
    const { type, data } = ev;
    switch (type) {
      case 'status': {
        const st = data.status as string;
        note('status', undefined, st);
        if (st === 'pending') analysisText.textContent = 'Queued';
        else if (st === 'processing') analysisText.textContent = 'Starting analysis…';
        else if (st === 'uploading') analysisText.textContent = 'Waiting for the upload…';
        break;
      }
      case 'upload': {
        const { receivedBytes, totalBytes } = data as { receivedBytes: number; totalBytes: number };
        if (totalBytes && !this.uploadDone && receivedBytes / totalBytes > uploadBar.value) this.onUploadProgress(receivedBytes, totalBytes);
        break;
      }
      case 'progress': {
        const p = data as { progress: number; currentStep: string; segments: { completed: number; total: number } };
        const v = Math.max(analysisBar.value, p.progress);
        analysisBar.value = v;
        analysisBar.setAttribute('aria-valuetext', pct(v));
        const segs = p.segments?.total ? ` · ${p.segments.completed} of ${p.segments.total} segments` : '';
        analysisText.textContent = `${p.currentStep}${segs} · ${pct(v)}`;
        note('analysis', v);
        break;
      }
      case 'segment': {
        const s = data as unknown as Segment;
        this.segments.set(s.index, s);
        this.renderTimeline();
        note('segment', s.index);
        break;
      }
      case 'completed':
        this.finished = true;
        this.closeStream();
        analysisBar.value = 1;
        analysisBar.setAttribute('aria-valuetext', '100 %');
        analysisText.textContent = 'Completed';
        setConn('done', 'Done');
        pauseBtn.disabled = cancelBtn.disabled = true;
        note('completed');
        void this.loadResults();
        break;
      case 'failed': {
        const err = (data.error as { message?: string }) ?? {};
        this.fail(err.message ?? 'The analysis failed.');
        break;
      }
      case 'cancelled':
        this.finished = true;
        this.closeStream();
        analysisText.textContent = 'Cancelled';
        setConn('idle', 'Stopped');
        break;
    }
  }

  fail(message: string) {
    this.finished = true;
    this.closeStream();
    errorBox.textContent = message;
    show(errorBox);
    setConn('error', 'Stopped');
    pauseBtn.disabled = cancelBtn.disabled = true;
    note('error', undefined, message);
  }

  // ---- timeline and results -------------------------------------------------------------------
  renderTimeline() {
    const segs = [...this.segments.values()].sort((a, b) => a.start_timestamp - b.start_timestamp);
    const end = Math.max(this.duration, ...segs.map((s) => s.end_timestamp), 0);
    if (!end) return;
    timeline.replaceChildren(
      ...segs.map((s) => {
        const key = `${s.start_timestamp}-${s.end_timestamp}`;
        const hl = this.highlightKeys.has(key);
        const label = segmentLabel(s, hl);
        const btn = h('button', { type: 'button', class: `seg${hl ? ' hl' : ''}${s.is_transition ? ' transition' : ''}`, 'aria-label': label, title: label });
        btn.style.left = `${(s.start_timestamp / end) * 100}%`;
        btn.style.width = `${(Math.max(0.05, s.end_timestamp - s.start_timestamp) / end) * 100}%`;
        btn.style.setProperty('--c', colourOf(s));
        if (hl) btn.append(h('span', { class: 'star', 'aria-hidden': 'true' }, '★'));
        btn.addEventListener('click', () => seek(s.start_timestamp));
        const li = h('div', { role: 'listitem', class: 'seg-item' }, btn);
        return li;
      }),
    );
    const ticks = 5;
    axis.replaceChildren(...Array.from({ length: ticks }, (_, i) => h('span', {}, fmtTime((end * i) / (ticks - 1)))));
  }

  async loadResults() {
    let results: Results;
    try {
      results = (await client.results(this.sessionId!)) as unknown as Results;
    } catch (err) {
      return this.fail(`Could not load the results (${(err as Error).message}).`);
    }
    if (results.video?.duration) this.duration = results.video.duration;
    for (const s of results.all_analyses ?? results.segment_analyses ?? []) {
      const index = s.index ?? this.segments.size;
      if (!this.segments.has(index)) this.segments.set(index, { ...s, index });
    }
    for (const s of results.highlights ?? []) this.highlightKeys.add(`${s.start_timestamp}-${s.end_timestamp}`);
    this.renderTimeline();
    renderResults(results, this.sessionId!);
    note('results');
  }
}

function colourOf(s: Segment): string {
  if (typeof s.significance_score === 'number') return scoreColour(s.significance_score);
  if (s.is_transition || !s.exercise_name) return 'hsl(220 10% 70%)';
  return `hsl(${hueOf(s.exercise_name)} 65% 55%)`;
}

function segmentLabel(s: Segment, hl: boolean): string {
  const when = `${fmtTime(s.start_timestamp)}–${fmtTime(s.end_timestamp)}`;
  if (typeof s.significance_score === 'number') {
    return `${when}, score ${s.significance_score}${hl ? ', highlight' : ''}${s.description ? `: ${s.description}` : ''}`;
  }
  return `${when}: ${s.exercise_name ?? 'segment'}${s.rep_count ? `, ${s.rep_count} reps` : ''}`;
}

function seek(t: number) {
  preview.currentTime = t;
  void preview.play().catch(() => {});
}

function renderResults(r: Results, sessionId: string) {
  const stats: Array<[string, string]> = [];
  if (r.analysis_type === 'highlights') {
    stats.push(['Highlights', String(r.highlights_found ?? 0)], ['Segments', String(r.total_segments_analyzed ?? 0)]);
  } else {
    stats.push(['Exercises', String(r.summary?.total_exercises_identified ?? 0)], ['Reps', String(r.summary?.total_reps ?? 0)]);
  }
  if (r.video) stats.push(['Video', `${fmtTime(r.video.duration)} · ${r.video.width}×${r.video.height}`]);
  if (r.processing_time_seconds !== undefined) stats.push(['Processing', `${r.processing_time_seconds.toFixed(1)} s`]);
  if (r.engine) stats.push(['Engine', r.engine.model ?? r.engine.name]);
  $('stats').replaceChildren(...stats.map(([k, v]) => h('div', { class: 'stat' }, h('dt', {}, k), h('dd', {}, v))));

  const list = $('highlights');
  const note = $('results-note');
  if (r.analysis_type === 'highlights') {
    const hs = r.highlights ?? [];
    list.replaceChildren(
      ...hs.map((s) => {
        const btn = h(
          'button',
          { type: 'button', class: 'hl-row' },
          h('span', { class: 'score' }, String(s.significance_score ?? '')),
          h('span', { class: 'when' }, s.timestamp_formatted ?? `${fmtTime(s.start_timestamp)} - ${fmtTime(s.end_timestamp)}`),
          h('span', { class: 'desc' }, s.description ?? ''),
        );
        (btn.firstChild as HTMLElement).style.setProperty('--c', scoreColour(s.significance_score ?? 1));
        btn.addEventListener('click', () => seek(s.start_timestamp));
        return h('li', {}, btn);
      }),
    );
    note.textContent = hs.length
      ? 'Select a highlight to play it.'
      : `No segment reached the minimum score of ${r.settings?.min_significance ?? '?'}; the timeline shows every score.`;
  } else {
    const steps = r.exercise_steps ?? [];
    list.replaceChildren(
      ...steps.map((s) => {
        const btn = h(
          'button',
          { type: 'button', class: 'hl-row' },
          h('span', { class: 'score' }, s.rep_count ? `${s.rep_count}×` : '–'),
          h('span', { class: 'when' }, s.timestamp_formatted),
          h('span', { class: 'desc' }, `${s.exercise_name}${s.description ? ` — ${s.description}` : ''}`),
        );
        (btn.firstChild as HTMLElement).style.setProperty('--c', `hsl(${hueOf(s.exercise_name)} 65% 55%)`);
        btn.addEventListener('click', () => seek(s.start_timestamp));
        return h('li', {}, btn);
      }),
    );
    note.textContent = steps.length ? 'Select an exercise to play it.' : 'No exercise was identified.';
  }
  $<HTMLAnchorElement>('results-json').href = withToken(`${API}/results/${sessionId}`);
  show(resultsCard);
}

function shortError(err: Error): string {
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

function setConn(state: 'idle' | 'connecting' | 'live' | 'done' | 'error', text: string) {
  conn.dataset.state = state;
  conn.textContent = text;
}

function resetUi(file: File) {
  show(runCard);
  show(timelineCard);
  show(resultsCard, false);
  show(errorBox, false);
  $('file-name').textContent = `${file.name} · ${fmtBytes(file.size)}`;
  uploadBar.value = 0;
  analysisBar.value = 0;
  uploadText.textContent = 'Starting…';
  analysisText.textContent = 'Waiting for the upload…';
  pauseBtn.disabled = cancelBtn.disabled = false;
  pauseBtn.textContent = 'Pause';
  timeline.replaceChildren();
  axis.replaceChildren();
  setConn('idle', 'Not connected');
}

// ---- wiring -------------------------------------------------------------------------------
let current: Run | null = null;

function begin(file: File | undefined) {
  if (!file) return;
  if (current && !current.finished) void current.cancel();
  current = new Run(file);
  current.start();
  runCard.scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth', block: 'start' });
}

fileInput.addEventListener('change', () => begin(fileInput.files?.[0]));
pauseBtn.addEventListener('click', () => current?.togglePause());
cancelBtn.addEventListener('click', () => void current?.cancel());

for (const ev of ['dragenter', 'dragover'] as const) {
  drop.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
for (const ev of ['dragleave', 'drop'] as const) drop.addEventListener(ev, () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files?.[0];
  if (f) begin(f);
});
// A file dropped anywhere else must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());
