// The results card: figures, the highlights (or the workout's sets) to play or download, the
// reel, and the results JSON.
import type { AnalysisResult, HighlightSegment } from '../../client/src/browser.js';
import { media } from '../api.js';
import { scoreColour, scoreInk, setColour, setNumber } from '../colour.js';
import { $, h, show } from '../dom.js';
import { clock, seconds, span } from '../format.js';
import type { Player, Span } from './player.js';

let jsonUrl: string | null = null;

export function renderResults(r: AnalysisResult, sessionId: string, player: Player): void {
  const stats: Array<[string, string]> = [];
  if (r.analysis_type === 'highlights') {
    stats.push(['Highlights', String(r.highlights_found)], ['Segments', String(r.total_segments_analyzed)]);
  } else {
    stats.push(['Sets', String(r.summary.total_exercises_identified)], ['Reps', String(r.summary.total_reps)]);
  }
  stats.push(['Video', `${clock(r.video.duration)} · ${r.video.width}×${r.video.height}`]);
  if (r.video.analysed_duration !== undefined && r.video.analysed_duration + 1 < r.video.duration) stats.push(['Analysed', clock(r.video.analysed_duration)]);
  stats.push(['Processing', seconds(r.processing_time_seconds)], ['Engine', r.engine.model ?? r.engine.name]);
  $('stats').replaceChildren(...stats.map(([k, v]) => h('div', { class: 'stat' }, h('dt', {}, k), h('dd', {}, v))));

  const rows: HTMLElement[] = [];
  let spans: Span[] = [];
  if (r.analysis_type === 'highlights') {
    spans = [...r.highlights].sort((a, b) => a.start_timestamp - b.start_timestamp).map(toSpan);
    for (const s of r.highlights) {
      const badge = h('span', { class: 'score', title: `score ${s.significance_score} of 10` }, String(s.significance_score));
      badge.style.setProperty('--c', scoreColour(s.significance_score));
      badge.style.setProperty('--ink', scoreInk(s.significance_score));
      rows.push(row(badge, s, s.description, player, `highlight-${s.index}.mp4`));
    }
    $('results-note').textContent = r.highlights.length
      ? 'Best first. Play one, or all of them in time order as a reel.'
      : `No segment reached the minimum score of ${r.settings.min_significance}; the timeline shows every score.`;
  } else {
    spans = r.exercise_steps.map(toSpan);
    r.exercise_steps.forEach((s, i) => {
      const c = setColour(setNumber(s.exercise_name) || i + 1);
      const badge = h('span', { class: 'score', title: `${s.rep_count} repetitions` }, `${s.rep_count}×`);
      badge.style.setProperty('--c', c.fill);
      badge.style.setProperty('--ink', c.ink);
      const tempo = s.tempo_seconds_per_rep ? `, ${seconds(s.tempo_seconds_per_rep)} per rep` : '';
      rows.push(row(badge, s, `${s.exercise_name}: ${s.rep_count} reps${tempo}`, player, `set-${i + 1}.mp4`));
    });
    $('results-note').textContent = r.exercise_steps.length ? 'Play a set, or all of them as a reel.' : 'No set of repetitions was found.';
  }
  $('highlights').replaceChildren(...rows);

  const reelBtn = $<HTMLButtonElement>('play-reel');
  const reelLink = $<HTMLAnchorElement>('reel-download');
  show(reelBtn, spans.length > 1);
  reelBtn.onclick = () => player.playReel(spans, r.reel_url ?? null);
  show(reelLink, !!r.reel_url);
  if (r.reel_url) {
    reelLink.href = media(r.reel_url);
    reelLink.download = `reel-${sessionId}.mp4`;
  }
  const json = $<HTMLAnchorElement>('results-json');
  if (jsonUrl) URL.revokeObjectURL(jsonUrl);
  jsonUrl = URL.createObjectURL(new Blob([JSON.stringify(r, null, 2)], { type: 'application/json' }));
  json.href = jsonUrl;
  json.download = `results-${sessionId}.json`;
  show($('results'));
}

const toSpan = (s: { start_timestamp: number; end_timestamp: number; clip_url?: string }): Span => ({ start: s.start_timestamp, end: s.end_timestamp, clip_url: s.clip_url });

function row(
  badge: HTMLElement,
  s: Pick<HighlightSegment, 'start_timestamp' | 'end_timestamp' | 'clip_url'>,
  desc: string,
  player: Player,
  file: string,
): HTMLElement {
  const when = span(s.start_timestamp, s.end_timestamp);
  const play = h('button', { type: 'button', class: 'btn play', 'aria-label': `Play ${when}` }, '▶ Play');
  play.addEventListener('click', () => player.playSpan(toSpan(s)));
  const dl = s.clip_url ? h('a', { class: 'btn btn-quiet', href: media(s.clip_url), download: file, 'aria-label': `Download ${when} (MP4)` }, 'Download') : null;
  return h('li', { class: 'hl-row' }, badge, h('span', { class: 'when' }, when), h('span', { class: 'desc' }, desc), h('span', { class: 'row-actions' }, play, dl));
}
