// The progress card: upload and analysis meters, the connection pill, Pause/Cancel, errors and
// warnings. Every text is derived from the run's state, so a late event cannot overwrite what a
// newer state says (a paused upload stays "Paused" whatever the server reports meanwhile).
import { $, show } from '../dom.js';
import { bytes, count, pct } from '../format.js';
import type { Run } from '../run.js';

const uploadBar = () => $<HTMLProgressElement>('upload-progress');
const analysisBar = () => $<HTMLProgressElement>('analysis-progress');

export function renderProgress(run: Run): void {
  show($('run'));
  $('file-name').textContent = run.filename ? `${run.filename}${run.file ? ` · ${bytes(run.file.size)}` : ''}` : run.sessionId ? `Session ${run.sessionId}` : '';
  renderUpload(run);
  renderAnalysis(run);
  renderConn(run);
  const err = $('error');
  err.textContent = run.error ?? '';
  show(err, !!run.error);
  const warn = $('warnings');
  const ws = run.warnings;
  warn.replaceChildren(...ws.map((w) => Object.assign(document.createElement('li'), { textContent: w.message })));
  show($('warnings-box'), ws.length > 0);
}

function renderUpload(run: Run): void {
  const u = run.upload;
  const frac = u.total ? Math.min(1, u.sent / u.total) : u.state === 'done' ? 1 : 0;
  const bar = uploadBar();
  bar.value = Math.max(bar.value, frac);
  bar.setAttribute('aria-valuetext', pct(bar.value));
  const texts: Record<typeof u.state, string> = {
    none: run.sessionId ? 'Uploaded earlier' : 'Waiting…',
    starting: 'Starting…',
    running: `${bytes(u.sent)} of ${bytes(u.total)} · ${pct(frac)}${u.rate > 0 && frac < 1 ? ` · ${bytes(u.rate)}/s` : ''}`,
    retrying: `Connection lost — retrying (${u.attempt})…`,
    paused: `Paused at ${pct(frac)}`,
    done: u.total ? `${bytes(u.total)} · done` : 'Done',
    interrupted: `Stopped at ${pct(frac)} when the page was left — choose the same file again to resume`,
    cancelled: 'Cancelled',
    failed: 'Failed',
  };
  $('upload-text').textContent = texts[u.state];
  if (u.state === 'none' && run.sessionId && run.status && run.status !== 'uploading') bar.value = 1;
  // Pause only while this page uploads; Cancel while the session can still be stopped.
  const pause = $<HTMLButtonElement>('pause');
  const cancel = $<HTMLButtonElement>('cancel');
  pause.textContent = u.state === 'paused' ? 'Resume' : 'Pause';
  show(pause, run.canPause && !run.ended);
  show(cancel, !run.ended && !run.error && !!(run.sessionId || u.state !== 'none'));
  show($('run-actions'), !pause.hidden || !cancel.hidden);
}

function renderAnalysis(run: Run): void {
  const a = run.analysis;
  const bar = analysisBar();
  const v = run.status === 'completed' ? 1 : Math.max(bar.value, a.progress);
  bar.value = v;
  bar.setAttribute('aria-valuetext', pct(v));
  let text: string;
  if (run.error) text = 'Failed';
  else if (run.status === 'completed') text = run.warnings.length ? `Completed with ${count(run.warnings.length, 'warning')}` : 'Completed';
  else if (run.status === 'cancelled') text = 'Cancelled';
  else if (run.status === 'failed') text = 'Failed';
  else if (run.status === 'pending') text = 'Queued';
  else if (run.status === 'processing') {
    const segs = a.total ? ` · ${a.completed} of ${a.total} segments` : '';
    text = a.step && a.progress > 0 ? `${a.step}${segs} · ${pct(v)}` : 'Starting analysis…';
  } else text = 'Waiting for the upload…';
  $('analysis-text').textContent = text;
}

function renderConn(run: Run): void {
  const conn = $('conn');
  const text = { idle: run.status === 'cancelled' ? 'Stopped' : 'Not connected', connecting: 'Connecting…', live: 'Live', done: 'Done', error: 'Stopped' }[run.conn];
  conn.dataset.state = run.conn;
  conn.textContent = text;
}

export function resetProgress(): void {
  uploadBar().value = 0;
  analysisBar().value = 0;
}
