// The video player. With the chosen file at hand it plays that (a span: from its start, paused
// at its end; the reel: the spans one after another). Without it (a session opened by its link)
// it plays the server's clip of the span, or its reel. Sound is on unless the browser refuses to
// start with sound; then it starts muted and offers to unmute.
import { media } from '../api.js';
import { $, reducedMotion, show } from '../dom.js';
import { span as spanText } from '../format.js';
import { note } from '../run.js';

export interface Span {
  start: number;
  end: number;
  /** The server's MP4 of exactly this span. */
  clip_url?: string;
}

type Mode =
  | { kind: 'full' }
  | { kind: 'spans'; spans: Span[]; i: number }
  | { kind: 'clip'; span: Span }
  | { kind: 'reel'; spans: Span[] };

/** Stops a span this close to its end, so the frame shown is the span's last one. */
const EPS = 0.01;

export class Player {
  readonly el = $<HTMLVideoElement>('player');
  private readonly unmute = $<HTMLButtonElement>('unmute');
  private readonly status = $('player-status');
  private readonly wrap = $('player-wrap');
  private fullSrc: string | null = null;
  private mode: Mode = { kind: 'full' };
  private raf = 0;
  private readonly timeListeners = new Set<(t: number) => void>();

  constructor() {
    this.el.addEventListener('play', () => this.tick());
    this.el.addEventListener('seeked', () => this.emitTime());
    // timeupdate as well as frames: frames stop in a hidden tab, timeupdate does not
    this.el.addEventListener('timeupdate', () => {
      if (!this.checkSpanEnd()) this.emitTime();
    });
    this.el.addEventListener('volumechange', () => show(this.unmute, this.el.muted));
    this.el.addEventListener('ended', () => {
      if (this.mode.kind === 'clip' || this.mode.kind === 'reel') this.done();
    });
    this.unmute.addEventListener('click', () => {
      this.el.muted = false;
      note('unmute');
    });
  }

  /** The chosen file, played whole (null: there is none, clips come from the server). */
  setFile(file: File | null): void {
    if (this.fullSrc) URL.revokeObjectURL(this.fullSrc);
    this.fullSrc = file ? URL.createObjectURL(file) : null;
    this.mode = { kind: 'full' };
    if (this.fullSrc) this.el.src = this.fullSrc;
    else this.el.removeAttribute('src');
    this.status.textContent = '';
    // without the file there is nothing to show until a clip or the reel is played
    show(this.wrap, !!this.fullSrc);
  }

  /** Whether there is a picture the timeline's playhead stands for (the file, a clip, the reel). */
  get active(): boolean {
    return this.fullSrc !== null || this.mode.kind !== 'full';
  }

  get hasFile(): boolean {
    return this.fullSrc !== null;
  }

  /** Called with the position in the analysed video (seconds) whenever it moves. */
  onTime(fn: (t: number) => void): void {
    this.timeListeners.add(fn);
  }

  /** Where the player is in the analysed video's time (clips and the reel are mapped back). */
  videoTime(): number {
    const t = this.el.currentTime;
    const m = this.mode;
    if (m.kind === 'clip') return Math.min(m.span.start + t, m.span.end - EPS); // its last frame is still the span's
    if (m.kind === 'reel') {
      let left = t;
      for (const s of m.spans) {
        const d = s.end - s.start;
        if (left < d) return s.start + left;
        left -= d;
      }
      return (m.spans.at(-1)?.end ?? EPS) - EPS;
    }
    return t;
  }

  /** Shows the whole video at `t` (no playback), when the file is at hand. */
  seek(t: number): void {
    if (!this.fullSrc) return;
    this.useFull();
    this.mode = { kind: 'full' };
    this.el.currentTime = t;
  }

  /** Plays exactly [start, end) and stops at its end. */
  playSpan(span: Span): void {
    this.playSpans([span], `Playing ${label(span)}`);
  }

  /** Plays the spans one after another (server reel: reelUrl, when the file is not at hand). */
  playReel(spans: Span[], reelUrl: string | null): void {
    if (!spans.length) return;
    if (!this.fullSrc && reelUrl) {
      this.mode = { kind: 'reel', spans };
      this.el.src = media(reelUrl);
      this.status.textContent = `Playing the reel: ${spans.length} highlights`;
      void this.start();
      return;
    }
    this.playSpans(spans, `Playing the reel: ${spans.length} highlights`);
  }

  private playSpans(spans: Span[], text: string): void {
    this.status.textContent = text;
    if (this.fullSrc) {
      this.useFull();
      this.mode = { kind: 'spans', spans, i: 0 };
      this.el.currentTime = spans[0].start;
    } else if (spans[0].clip_url) {
      // one clip at a time: a reel without the file goes through playReel's server reel
      this.mode = { kind: 'clip', span: spans[0] };
      this.el.src = media(spans[0].clip_url);
    } else return;
    note('play', spans[0].start, String(spans.at(-1)!.end));
    void this.start();
  }

  private useFull() {
    if (this.fullSrc && this.el.src !== this.fullSrc) this.el.src = this.fullSrc;
  }

  private async start(): Promise<void> {
    show(this.wrap);
    this.reveal();
    try {
      await this.el.play();
    } catch (err) {
      if ((err as DOMException).name !== 'NotAllowedError') return;
      // No user gesture behind this play (autoplay policy): start muted, offer sound.
      this.el.muted = true;
      await this.el.play().catch(() => {});
    }
  }

  /** On a narrow screen the player may be far above the list: bring it into view. */
  private reveal(): void {
    const r = this.el.getBoundingClientRect();
    if (r.top < 0 || r.bottom > innerHeight) this.el.scrollIntoView({ behavior: reducedMotion() ? 'auto' : 'smooth', block: 'center' });
  }

  /** While playing: stop at a span's end (or go on to the next span), and move the playhead. */
  private tick(): void {
    cancelAnimationFrame(this.raf);
    const step = () => {
      if (this.checkSpanEnd()) return;
      this.emitTime();
      if (!this.el.paused) this.raf = requestAnimationFrame(step);
    };
    this.raf = requestAnimationFrame(step);
  }

  /** At a span's end: on to the next span, or pause there. True when it stopped. */
  private checkSpanEnd(): boolean {
    const m = this.mode;
    if (m.kind !== 'spans' || this.el.paused) return false;
    const span = m.spans[m.i];
    if (this.el.currentTime < span.end - EPS) return false;
    if (m.i + 1 < m.spans.length) {
      m.i++;
      this.el.currentTime = m.spans[m.i].start;
      note('next-span', m.spans[m.i].start);
      return false;
    }
    this.el.pause();
    this.el.currentTime = Math.max(span.start, span.end - EPS);
    this.mode = { kind: 'full' };
    this.done();
    return true;
  }

  private done(): void {
    this.status.textContent = '';
    note('stopped', this.videoTime());
    this.emitTime();
  }

  private emitTime(): void {
    const t = this.videoTime();
    for (const fn of this.timeListeners) fn(t);
  }
}

const label = (s: Span) => spanText(s.start, s.end);
