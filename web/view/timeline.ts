// The storyboard timeline. Highlights: every segment with its thumbnail and its score (a number
// on the viridis scale, visible without hovering), highlights starred. Workout: the sets as
// coloured spans (reps, tempo) with a tick per counted repetition, rests between; while the
// analysis runs, its windows. Both: a playhead following the player, the current segment marked,
// hover previews from the storyboard track, axis ticks at round times, and a legend made from
// what is drawn.
import type { ExerciseStep, HighlightSegment, WorkoutSegment } from '../../client/src/browser.js';
import { client, media } from '../api.js';
import { scoreColour, scoreInk, scoreRamp, setColour, setNumber } from '../colour.js';
import { $, h, show } from '../dom.js';
import { clock, count, seconds, span, ticks } from '../format.js';
import type { Run, Segment } from '../run.js';
import { parseStoryboard, tileAt, type Tile } from '../storyboard.js';
import type { Player } from './player.js';

const isHighlight = (s: Segment): s is HighlightSegment => typeof (s as HighlightSegment).significance_score === 'number';

/** One thing drawn on the board that the player can be inside of. */
interface Item {
  start: number;
  end: number;
  el: HTMLElement;
}

export class Timeline {
  private readonly board = $('board');
  private readonly lane = $('lane');
  private readonly axis = $('axis');
  private readonly legend = $('legend');
  private readonly playhead = $('playhead');
  private readonly hover = $('hover');
  private readonly hoverPic = $('hover-pic');
  private readonly hoverText = $('hover-text');
  private items: Item[] = [];
  private end = 0;
  private tiles: Tile[] = [];
  private storyboardFor: string | null = null;
  private run: Run | null = null;
  private current: HTMLElement | null = null;

  constructor(private readonly player: Player) {
    player.onTime((t) => this.moveTo(t));
    this.board.addEventListener('pointermove', (e) => this.preview(this.timeAt(e.clientX), e.clientX));
    this.board.addEventListener('pointerleave', () => show(this.hover, false));
    // a click between the drawn spans (a workout's rests) shows the file at that moment
    this.board.addEventListener('click', (e) => {
      if (!(e.target as Element).closest('button')) this.player.seek(this.timeAt(e.clientX));
    });
    new ResizeObserver(() => this.run && this.render(this.run)).observe(this.board);
  }

  reset(): void {
    this.run = null;
    this.items = [];
    this.end = 0;
    this.tiles = [];
    this.storyboardFor = null;
    this.lane.replaceChildren();
    this.axis.replaceChildren();
    this.legend.replaceChildren();
    show(this.playhead, false);
  }

  render(run: Run): void {
    this.run = run;
    // before the first segment, the chosen file's own length gives the axis
    const fileLength = this.player.hasFile && Number.isFinite(this.player.el.duration) ? this.player.el.duration : 0;
    this.end = Math.max(run.duration, fileLength);
    if (!this.end) return;
    const r = run.results;
    if (r?.analysis_type === 'workout_with_timestamps') this.drawSets(r.exercise_steps, r.segment_analyses);
    else if (run.analysisType === 'workout' && !r) this.drawWindows([...run.segments.values()] as WorkoutSegment[]);
    else this.drawScores([...run.segments.values()].filter(isHighlight), run);
    if (!this.items.length) this.lane.replaceChildren(h('p', { class: 'lane-empty', role: 'listitem' }, run.ended ? 'No segments.' : 'Segments appear here as they are analysed…'));
    this.drawAxis();
    if (r?.storyboard_url && this.storyboardFor !== r.storyboard_url) void this.loadStoryboard(r.storyboard_url);
    this.moveTo(this.player.videoTime());
  }

  private pos(el: HTMLElement, start: number, end: number) {
    el.style.left = `${(start / this.end) * 100}%`;
    el.style.width = `${(Math.max(0.05, end - start) / this.end) * 100}%`;
  }

  private px(start: number, end: number) {
    return ((end - start) / this.end) * this.board.clientWidth;
  }

  private playButton(label: string, start: number, end: number, cls: string, clip?: string): HTMLButtonElement {
    const btn = h('button', { type: 'button', class: cls, 'aria-label': label, 'data-start': String(start), 'data-end': String(end) });
    this.pos(btn, start, end);
    btn.addEventListener('click', () => this.player.playSpan({ start, end, clip_url: clip }));
    btn.addEventListener('focus', () => this.preview((start + end) / 2, null, btn));
    btn.addEventListener('blur', () => show(this.hover, false));
    return btn;
  }

  // ---- highlights ------------------------------------------------------------------------------
  private drawScores(segs: HighlightSegment[], run: Run) {
    segs.sort((a, b) => a.start_timestamp - b.start_timestamp);
    const r = run.results?.analysis_type === 'highlights' ? run.results : null;
    const hl = new Set((r?.highlights ?? []).map((s) => s.index));
    this.items = segs.map((s) => {
      const star = hl.has(s.index);
      const label = `${span(s.start_timestamp, s.end_timestamp)}, score ${s.significance_score}${star ? ', highlight' : ''}${s.description ? `: ${s.description}` : ''}`;
      const btn = this.playButton(label, s.start_timestamp, s.end_timestamp, `seg${star ? ' hl' : ''}`, s.clip_url);
      btn.title = label;
      btn.dataset.index = String(s.index);
      btn.style.setProperty('--c', scoreColour(s.significance_score));
      btn.style.setProperty('--ink', scoreInk(s.significance_score));
      if (s.thumbnail_url) btn.append(h('img', { class: 'thumb', src: media(s.thumbnail_url), alt: '', loading: 'lazy', decoding: 'async' }));
      const narrow = this.px(s.start_timestamp, s.end_timestamp) < 24;
      btn.append(h('span', { class: `score${narrow ? ' dot' : ''}`, 'aria-hidden': 'true' }, narrow ? '' : String(s.significance_score)));
      if (star) btn.append(h('span', { class: 'star', 'aria-hidden': 'true' }, '★'));
      btn.append(h('span', { class: 'bar', 'aria-hidden': 'true' }));
      return { start: s.start_timestamp, end: s.end_timestamp, el: btn };
    });
    this.lane.setAttribute('aria-label', 'Analysed segments with their scores; select one to play it');
    this.lane.replaceChildren(...this.items.map((i) => h('div', { role: 'listitem', class: 'item' }, i.el)));
    this.legend.replaceChildren(
      h('span', {}, 'Score'),
      h('span', { class: 'ramp-wrap' }, rampEl(), h('span', { class: 'ramp-labels' }, h('span', {}, '1'), h('span', {}, '5'), h('span', {}, '10'))),
      ...(hl.size ? [h('span', { class: 'key' }, h('span', { class: 'star', 'aria-hidden': 'true' }, '★'), ` highlight (score ≥ ${r?.settings.min_significance})`)] : []),
      ...PLAYER_KEYS(),
    );
  }

  // ---- workout -----------------------------------------------------------------------------------
  /** The analysis is still running: its windows, coloured by the set they belong to. */
  private drawWindows(segs: WorkoutSegment[]) {
    segs.sort((a, b) => a.start_timestamp - b.start_timestamp);
    const drawn = new Map<string, HTMLElement>();
    this.items = segs.map((s) => {
      const n = setNumber(s.exercise_name);
      const kind = s.movement_phase === 'Execution' && n ? 'set' : s.movement_phase === 'Movement' ? 'movement' : s.movement_phase === 'unknown' ? 'unknown' : 'rest';
      const label = `${span(s.start_timestamp, s.end_timestamp)}: ${kind === 'set' ? `${s.exercise_name}, ${count(s.rep_count, 'rep')}` : s.movement_phase}`;
      const btn = this.playButton(label, s.start_timestamp, s.end_timestamp, `win ${kind}`, s.clip_url);
      btn.title = label;
      if (kind === 'set') {
        const c = setColour(n);
        btn.style.setProperty('--c', c.fill);
        btn.style.setProperty('--ink', c.ink);
        if (s.rep_count && this.px(s.start_timestamp, s.end_timestamp) > 40) btn.append(h('span', { class: 'set-label', 'aria-hidden': 'true' }, count(s.rep_count, 'rep')));
        drawn.set(s.exercise_name, swatch(c.fill, s.exercise_name));
      } else drawn.set(kind, swatch(null, kind === 'rest' ? 'Rest' : kind === 'movement' ? 'Movement, no reps' : 'Not decoded', kind));
      return { start: s.start_timestamp, end: s.end_timestamp, el: btn };
    });
    this.lane.setAttribute('aria-label', 'Workout so far: analysed windows');
    this.lane.replaceChildren(...this.items.map((i) => h('div', { role: 'listitem', class: 'item' }, i.el)));
    this.legend.replaceChildren(...sortKeys(drawn), ...PLAYER_KEYS());
  }

  /** The finished workout: rest everywhere, sets drawn over it, a tick per counted rep. */
  private drawSets(steps: ExerciseStep[], windows: WorkoutSegment[]) {
    const drawn = new Map<string, HTMLElement>();
    const rests: HTMLElement[] = [];
    const gaps = restGaps(steps, this.end);
    for (const g of gaps) {
      const el = h('div', { class: 'rest-span', 'aria-hidden': 'true' }, this.px(g.start, g.end) > 50 ? h('span', {}, 'Rest') : null);
      this.pos(el, g.start, g.end);
      rests.push(el);
    }
    if (gaps.length) drawn.set('rest', swatch(null, 'Rest', 'rest'));
    const undecoded = windows.filter((w) => w.movement_phase === 'unknown');
    for (const w of undecoded) {
      const el = h('div', { class: 'unknown-span', 'aria-hidden': 'true' });
      this.pos(el, w.start_timestamp, w.end_timestamp);
      rests.push(el);
    }
    if (undecoded.length) drawn.set('unknown', swatch(null, 'Not decoded', 'unknown'));
    let ticked = false;
    this.items = steps.map((s, i) => {
      const c = setColour(setNumber(s.exercise_name) || i + 1);
      const tempo = s.tempo_seconds_per_rep;
      const label = `${s.exercise_name}, ${span(s.start_timestamp, s.end_timestamp)}: ${count(s.rep_count, 'rep')}${tempo ? `, ${seconds(tempo)} per rep` : ''}`;
      const btn = this.playButton(label, s.start_timestamp, s.end_timestamp, 'set-span', s.clip_url);
      btn.title = label;
      btn.style.setProperty('--c', c.fill);
      btn.style.setProperty('--ink', c.ink);
      const w = this.px(s.start_timestamp, s.end_timestamp);
      const text = w > 170 ? `${s.exercise_name} · ${count(s.rep_count, 'rep')}${tempo ? ` · ${seconds(tempo)}/rep` : ''}` : w > 60 ? `${s.rep_count} reps` : `${s.rep_count}`;
      btn.append(h('span', { class: 'set-label', 'aria-hidden': 'true' }, text));
      const dur = Math.max(0.01, s.end_timestamp - s.start_timestamp);
      for (const t of s.rep_timestamps ?? []) {
        const tick = h('span', { class: 'rep', 'aria-hidden': 'true' });
        tick.style.left = `${((t - s.start_timestamp) / dur) * 100}%`;
        btn.append(tick);
        ticked = true;
      }
      drawn.set(s.exercise_name, swatch(c.fill, s.exercise_name));
      return { start: s.start_timestamp, end: s.end_timestamp, el: btn };
    });
    this.lane.setAttribute('aria-label', 'Workout: sets with their repetitions, rests between; select a set to play it');
    this.lane.replaceChildren(...rests, ...this.items.map((i) => h('div', { role: 'listitem', class: 'item' }, i.el)));
    this.legend.replaceChildren(
      ...sortKeys(drawn),
      ...(ticked ? [h('span', { class: 'key' }, h('span', { class: 'swatch rep-key', 'aria-hidden': 'true' }), ' one repetition')] : []),
      ...PLAYER_KEYS(),
    );
  }

  // ---- axis, playhead, hover ----------------------------------------------------------------------
  private drawAxis() {
    const max = Math.max(2, Math.floor(this.board.clientWidth / 70));
    this.axis.replaceChildren(
      ...ticks(this.end, max).map((t) => {
        const el = h('span', { class: `tick${t > 0 && t >= this.end - 1e-6 ? ' end' : ''}` }, clock(t));
        el.style.left = `${(t / this.end) * 100}%`;
        return el;
      }),
    );
  }

  private moveTo(t: number) {
    if (!this.end) return;
    show(this.playhead, this.player.active);
    if (!this.player.active) return;
    this.playhead.style.left = `${(Math.min(t, this.end) / this.end) * 100}%`;
    const item = this.items.find((i) => t >= i.start && t < i.end) ?? null;
    if (item?.el === this.current) return;
    this.current?.classList.remove('current');
    this.current?.removeAttribute('aria-current');
    this.current = item?.el ?? null;
    this.current?.classList.add('current');
    this.current?.setAttribute('aria-current', 'true');
  }

  private timeAt(clientX: number): number {
    const r = this.board.getBoundingClientRect();
    return Math.min(1, Math.max(0, (clientX - r.left) / r.width)) * this.end;
  }

  private preview(t: number, clientX: number | null, anchor?: HTMLElement) {
    if (!this.end || !this.run) return;
    const tile = tileAt(this.tiles, t);
    const seg = [...this.run.segments.values()].find((s) => t >= s.start_timestamp && t < s.end_timestamp);
    if (tile) {
      const scale = 160 / tile.w;
      this.hoverPic.style.backgroundImage = `url("${media(tile.url)}")`;
      this.hoverPic.style.backgroundPosition = `-${tile.x * scale}px -${tile.y * scale}px`;
      this.hoverPic.style.backgroundSize = `${(this.spriteWidth(tile) * scale).toFixed(0)}px auto`;
      this.hoverPic.style.height = `${tile.h * scale}px`;
    } else if (seg?.thumbnail_url) {
      this.hoverPic.style.backgroundImage = `url("${media(seg.thumbnail_url)}")`;
      this.hoverPic.style.backgroundPosition = 'center';
      this.hoverPic.style.backgroundSize = 'cover';
      this.hoverPic.style.height = '90px';
    } else {
      this.hoverPic.style.backgroundImage = 'none';
      this.hoverPic.style.height = '0';
    }
    const score = seg && isHighlight(seg) ? ` · score ${seg.significance_score}` : '';
    this.hoverText.textContent = `${clock(t)}${score}`;
    const r = this.board.getBoundingClientRect();
    const x = clientX ?? (anchor ? anchor.getBoundingClientRect().left + anchor.getBoundingClientRect().width / 2 : r.left);
    this.hover.style.left = `${Math.min(r.width - 84, Math.max(84, x - r.left))}px`;
    show(this.hover);
  }

  /** Sprites are ten tiles wide (fewer when the video has fewer tiles). */
  private spriteWidth(tile: Tile): number {
    const across = this.tiles.filter((c) => c.url === tile.url && c.y === tile.y).length;
    return Math.max(...this.tiles.filter((c) => c.url === tile.url).map((c) => c.x + c.w), across * tile.w);
  }

  private async loadStoryboard(url: string) {
    this.storyboardFor = url;
    try {
      const res = await fetch(media(url), { headers: client.token ? { Authorization: `Bearer ${client.token}` } : {} });
      if (res.ok) this.tiles = parseStoryboard(await res.text());
    } catch {
      // no previews: the thumbnails still show
    }
  }
}

/** The legend's keys for what the player adds: the playhead and the current segment's frame. */
const PLAYER_KEYS = () => [
  h('span', { class: 'key' }, h('span', { class: 'swatch playhead-key', 'aria-hidden': 'true' }), ' playhead'),
  h('span', { class: 'key' }, h('span', { class: 'swatch current-key', 'aria-hidden': 'true' }), ' playing now'),
];

function rampEl() {
  const el = h('span', { class: 'ramp', 'aria-hidden': 'true' });
  el.style.background = scoreRamp();
  return el;
}

function swatch(fill: string | null, text: string, cls = 'set'): HTMLElement {
  const sw = h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' });
  if (fill) sw.style.background = fill;
  return h('span', { class: 'key' }, sw, ` ${text}`);
}

const sortKeys = (m: Map<string, HTMLElement>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true })).map(([, el]) => el);

/** The stretches outside every set. */
function restGaps(steps: ExerciseStep[], end: number): Array<{ start: number; end: number }> {
  const gaps: Array<{ start: number; end: number }> = [];
  let at = 0;
  for (const s of [...steps].sort((a, b) => a.start_timestamp - b.start_timestamp)) {
    if (s.start_timestamp - at > 0.2) gaps.push({ start: at, end: s.start_timestamp });
    at = Math.max(at, s.end_timestamp);
  }
  if (end - at > 0.2) gaps.push({ start: at, end });
  return gaps;
}
