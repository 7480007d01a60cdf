// One session: its metadata, its append-only event log, and the state folded from it.
import { BehaviorSubject, Observable, Subject, takeWhile } from 'rxjs';
import {
  type EventType,
  type SessionEvent,
  type SessionMeta,
  type SessionState,
  type SessionStatus,
  TERMINAL_EVENTS,
  initialState,
  isTerminal,
  reduce,
} from './events.js';

/** Called for every appended event before subscribers see it (persistence). */
export type EventSink = (session: Session, event: SessionEvent) => void;

export class Session {
  readonly id: string;
  private readonly log: SessionEvent[] = [];
  private readonly state$: BehaviorSubject<SessionState>;
  private readonly live$ = new Subject<SessionEvent>();

  constructor(
    readonly meta: SessionMeta,
    initialStatus: SessionStatus,
    private readonly sink: EventSink,
    history: SessionEvent[] = [],
  ) {
    this.id = meta.sessionId;
    let state = initialState(meta, initialStatus);
    for (const ev of history) {
      this.log.push(ev);
      state = reduce(state, ev);
    }
    this.state$ = new BehaviorSubject(state);
    if (isTerminal(state.status)) this.live$.complete();
  }

  get state(): SessionState {
    return this.state$.value;
  }

  get lastSeq(): number {
    return this.log.length === 0 ? 0 : this.log[this.log.length - 1].seq;
  }

  get terminal(): boolean {
    return isTerminal(this.state.status);
  }

  /** State changes (current value first). */
  get states(): Observable<SessionState> {
    return this.state$.asObservable();
  }

  /**
   * Appends an event; returns it, or null if the session is already terminal (a terminal
   * session's log is closed).
   */
  append(type: EventType, data: Record<string, unknown>): SessionEvent | null {
    if (this.log.length > 0 && TERMINAL_EVENTS.has(this.log[this.log.length - 1].type)) return null;
    const ev: SessionEvent = { seq: this.lastSeq + 1, type, data, at: new Date().toISOString() };
    this.sink(this, ev);
    this.log.push(ev);
    const prev = this.state$.value;
    const next = reduce(prev, ev);
    if (next !== prev) this.state$.next(next);
    this.live$.next(ev);
    if (TERMINAL_EVENTS.has(type)) {
      this.live$.complete();
      this.state$.complete();
    }
    return ev;
  }

  /** Moves to a new status: a `status` event, plus the terminal event for terminal ones. */
  transition(status: SessionStatus, terminalData: Record<string, unknown> = {}): boolean {
    if (this.terminal || this.state.status === status) return false;
    const statusData: Record<string, unknown> = { status };
    if (status === 'failed') statusData.error = terminalData.error;
    if (!this.append('status', statusData)) return false;
    if (status === 'completed' || status === 'failed' || status === 'cancelled') this.append(status, terminalData);
    return true;
  }

  /** Events with seq > since, in order. */
  history(since = 0): SessionEvent[] {
    // seq n is at index n-1: the log has no gaps.
    return this.log.slice(Math.max(0, since));
  }

  /**
   * Every event after `since`, then live ones, completing after the terminal event. Replay and
   * live go through one path with one cursor: the replay re-reads the log's length as it goes (so
   * events appended while replaying are included), and the live part skips anything the cursor
   * already passed, so nothing is lost or sent twice at the seam. A `since` beyond the log is
   * clamped to its end.
   */
  eventsSince(since = 0): Observable<SessionEvent> {
    return new Observable<SessionEvent>((sub) => {
      let delivered = Math.min(Math.max(0, Math.floor(since) || 0), this.lastSeq);
      while (delivered < this.log.length && !sub.closed) {
        const ev = this.log[delivered]; // seq n lives at index n-1
        delivered = ev.seq;
        sub.next(ev);
      }
      if (sub.closed) return;
      return this.live$.subscribe({
        next: (ev) => {
          if (ev.seq <= delivered) return;
          delivered = ev.seq;
          sub.next(ev);
        },
        complete: () => sub.complete(),
      });
    }).pipe(takeWhile((e) => !TERMINAL_EVENTS.has(e.type), true));
  }
}
