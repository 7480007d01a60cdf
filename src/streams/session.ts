// One session: its metadata, its append-only event log, and the state folded from it. Session is
// the read side every store shares (replay, live follow, state); how events are written is the
// store's: LocalSession (journal mode) writes and applies in one step, a shared store's session
// applies the events its log hands back, in seq order, whichever node wrote them.
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

export interface TransitionOptions {
  /** Only if the session is in this status now. */
  from?: SessionStatus;
}

export abstract class Session {
  readonly id: string;
  private readonly log: SessionEvent[] = [];
  /** Events that arrived ahead of a gap, by seq, until the gap is filled. */
  private readonly ahead = new Map<number, SessionEvent>();
  private readonly state$: BehaviorSubject<SessionState>;
  private readonly live$ = new Subject<SessionEvent>();

  constructor(
    readonly meta: SessionMeta,
    initialStatus: SessionStatus,
    history: SessionEvent[] = [],
  ) {
    this.id = meta.sessionId;
    let state = initialState(meta, initialStatus);
    for (const ev of history) {
      this.log.push(ev);
      state = reduce(state, ev);
    }
    this.state$ = new BehaviorSubject(state);
    if (this.closed) this.live$.complete();
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

  /** Whether the log ends with a terminal event (nothing more is appended). */
  protected get closed(): boolean {
    return this.log.length > 0 && TERMINAL_EVENTS.has(this.log[this.log.length - 1].type);
  }

  /** State changes (current value first). */
  get states(): Observable<SessionState> {
    return this.state$.asObservable();
  }

  /** Appends an event; resolves to it, or to null if the log is closed (the session is terminal). */
  abstract append(type: EventType, data: Record<string, unknown>): Promise<SessionEvent | null>;

  /**
   * Moves to a new status: a `status` event, plus the terminal event for terminal statuses, at
   * once. False if already terminal, already in `status`, or not in `opts.from` when given.
   */
  abstract transition(status: SessionStatus, terminalData?: Record<string, unknown>, opts?: TransitionOptions): Promise<boolean>;

  /**
   * Adds an event of this session's log, in seq order: one already applied is ignored, one
   * beyond a gap waits until the gap is filled. Folds the state and tells followers; completes
   * them after the terminal event. Returns whether the log grew.
   */
  protected apply(ev: SessionEvent): boolean {
    if (ev.seq <= this.lastSeq || this.closed) return false;
    if (ev.seq > this.lastSeq + 1) {
      this.ahead.set(ev.seq, ev);
      return false;
    }
    for (let next: SessionEvent | undefined = ev; next; next = this.ahead.get(this.lastSeq + 1)) {
      this.ahead.delete(next.seq);
      this.add(next);
      if (this.closed) {
        this.ahead.clear();
        break;
      }
    }
    return true;
  }

  private add(ev: SessionEvent): void {
    this.log.push(ev);
    const prev = this.state$.value;
    const next = reduce(prev, ev);
    if (next !== prev) this.state$.next(next);
    this.live$.next(ev);
    if (TERMINAL_EVENTS.has(ev.type)) {
      this.live$.complete();
      this.state$.complete();
    }
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

/** Called for every appended event before followers see it (persistence). */
export type EventSink = (session: LocalSession, event: SessionEvent) => void;

/**
 * A session of this process alone (journal mode): an append is persisted by the sink and applied
 * before its promise is returned, so callers that do not wait still see the event in the log.
 */
export class LocalSession extends Session {
  constructor(meta: SessionMeta, initialStatus: SessionStatus, private readonly sink: EventSink, history: SessionEvent[] = []) {
    super(meta, initialStatus, history);
  }

  append(type: EventType, data: Record<string, unknown>): Promise<SessionEvent | null> {
    return Promise.resolve(this.appendNow(type, data));
  }

  transition(status: SessionStatus, terminalData: Record<string, unknown> = {}, opts: TransitionOptions = {}): Promise<boolean> {
    return Promise.resolve(this.transitionNow(status, terminalData, opts));
  }

  private appendNow(type: EventType, data: Record<string, unknown>): SessionEvent | null {
    if (this.closed) return null;
    const ev: SessionEvent = { seq: this.lastSeq + 1, type, data, at: new Date().toISOString() };
    this.sink(this, ev);
    this.apply(ev);
    return ev;
  }

  private transitionNow(status: SessionStatus, terminalData: Record<string, unknown>, opts: TransitionOptions): boolean {
    if (this.terminal || this.state.status === status) return false;
    if (opts.from !== undefined && this.state.status !== opts.from) return false;
    if (!this.appendNow('status', statusEventData(status, terminalData))) return false;
    if (isTerminal(status)) this.appendNow(status as EventType, terminalData);
    return true;
  }
}

/** The `status` event's data for a transition (failures carry their error). */
export function statusEventData(status: SessionStatus, terminalData: Record<string, unknown> = {}): Record<string, unknown> {
  const data: Record<string, unknown> = { status };
  if (status === 'failed') data.error = terminalData.error;
  return data;
}
