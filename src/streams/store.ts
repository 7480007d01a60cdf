// All sessions, in memory and in the journal: create, look up, remove, recover, expire.
import type { SessionEvent, SessionMeta, SessionStatus } from './events.js';
import { Journal } from './journal.js';
import type { DataLayout } from './layout.js';
import { LocalSession, type Session } from './session.js';
import { TERMINAL_EVENTS } from './events.js';
import type { StorageError } from './storage.js';
import { sessionMeta, type NewSession, type RecoveryReport, type SessionListQuery, type SessionStore } from './stores.js';

/** nanoid's default alphabet and length: 21 URL-safe characters. */
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{21}$/;
export const isSessionId = (s: string) => SESSION_ID_RE.test(s);

/** The list's order: negative when `a` comes before `b` (created later, or the same ms and a greater id). */
function newestFirst(a: Session, b: { createdAt: string; sessionId: string }): number {
  return cmp(b.createdAt, a.meta.createdAt) || cmp(b.sessionId, a.id);
}
const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

/** Sessions journaled as JSONL files under DATA_DIR/sessions (journal.ts). */
export class JournalSessionStore implements SessionStore {
  private readonly journal: Journal;
  private readonly sessions = new Map<string, Session>();
  /** Sessions whose journal is behind their log: the seq of the first event it lacks. */
  private readonly behind = new Map<string, number>();
  onPersistFailure: SessionStore['onPersistFailure'] = () => {};

  constructor(layout: DataLayout) {
    this.journal = new Journal(layout);
  }

  async create(spec: NewSession, status: SessionStatus): Promise<Session> {
    const meta = sessionMeta(spec);
    this.journal.create(meta);
    const session = this.adopt(meta, status, []);
    void session.append('status', { status }); // a LocalSession applies it at once
    return session;
  }

  async get(id: string): Promise<Session | undefined> {
    return this.held(id);
  }

  /** The session if this process holds it (journal mode: every session). */
  held(id: string): Session | undefined {
    return isSessionId(id) ? this.sessions.get(id) : undefined;
  }

  async list({ status, after, limit }: SessionListQuery): Promise<Session[]> {
    const out: Session[] = [];
    for (const s of this.sessions.values()) {
      if (status && s.state.status !== status) continue;
      if (after && newestFirst(s, after) <= 0) continue;
      out.push(s);
    }
    return out.sort((a, b) => newestFirst(a, b.meta)).slice(0, limit);
  }

  async count(): Promise<Record<SessionStatus, number>> {
    const out: Record<SessionStatus, number> = { uploading: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const s of this.sessions.values()) out[s.state.status]++;
    return out;
  }

  /** Deletes the session's files and forgets it. Throws a StorageError (and keeps it) when the files stay. */
  async remove(id: string): Promise<boolean> {
    this.journal.remove(id);
    this.behind.delete(id);
    return this.sessions.delete(id);
  }

  /** Stores the final result, before the `completed` event. Throws a StorageError. */
  async writeResult(id: string, result: unknown): Promise<void> {
    this.journal.writeResult(id, result);
  }

  /** The stored result as JSON text, or null. */
  async resultText(id: string): Promise<string | null> {
    return this.journal.readResultText(id);
  }

  /**
   * Loads the journal after a start. Sessions that were processing when the process died are
   * queued again first (the scheduler notes the take-over, or fails them once they had their
   * attempts), then those that never started.
   */
  async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { restored: 0, requeue: [], resumed: 0, uploading: [], sessions: [] };
    const resumed: Session[] = [];
    for (const { meta, events } of this.journal.loadAll()) {
      const session = this.adopt(meta, 'pending', events);
      report.restored++;
      report.sessions.push(session);
      switch (session.state.status) {
        case 'processing':
          resumed.push(session);
          break;
        case 'pending':
          report.requeue.push(session);
          break;
        case 'uploading':
          report.uploading.push(session);
          break;
      }
    }
    const byAge = (a: Session, b: Session) => a.meta.createdAt.localeCompare(b.meta.createdAt);
    report.resumed = resumed.length;
    report.requeue = [...resumed.sort(byAge), ...report.requeue.sort(byAge)];
    return report;
  }

  /** Sessions whose last activity is older than ttlMs; the caller stops their work first. */
  /** Its sessions are the log: nothing to bring up to date. */
  async refresh(): Promise<void> {}

  async expired(now: number, ttlMs: number): Promise<string[]> {
    const out: string[] = [];
    for (const s of this.sessions.values()) {
      if (now - Date.parse(s.state.updatedAt) > ttlMs) out.push(s.id);
    }
    return out;
  }

  diskBytes(id: string): number {
    return this.journal.diskBytes(id);
  }

  async close(): Promise<void> {
    this.journal.closeAll();
  }

  /**
   * Journals an event before followers see it. When that fails (a full disk), the event still
   * goes out live, the journal is marked behind, and the missed events are written first by the
   * next append that succeeds (or by catchUp), so the journal never has a gap.
   */
  private persist(session: Session, ev: SessionEvent): void {
    const from = this.behind.get(session.id);
    // seq n is at index n-1; the event being appended is not in the log yet
    const events = from === undefined ? [ev] : [...session.history(from - 1), ev];
    this.write(session, events, from ?? ev.seq);
  }

  private write(session: Session, events: SessionEvent[], firstSeq: number): boolean {
    const terminal = TERMINAL_EVENTS.has(events[events.length - 1].type);
    try {
      this.journal.append(session.id, events, terminal);
      this.behind.delete(session.id);
      if (terminal) this.journal.close(session.id);
      return true;
    } catch (err) {
      if (!this.behind.has(session.id)) {
        this.behind.set(session.id, firstSeq);
        queueMicrotask(() => this.onPersistFailure(session, err as StorageError));
      }
      return false;
    }
  }

  /** Writes the events that journals are missing (say once the disk has room again). */
  catchUp(): void {
    for (const [id, from] of [...this.behind]) {
      const session = this.sessions.get(id);
      if (session) this.write(session, session.history(from - 1), from);
      else this.behind.delete(id);
    }
  }

  private adopt(meta: SessionMeta, status: SessionStatus, history: SessionEvent[]): Session {
    const session = new LocalSession(meta, status, (s, ev) => this.persist(s, ev), history);
    this.sessions.set(meta.sessionId, session);
    return session;
  }
}
