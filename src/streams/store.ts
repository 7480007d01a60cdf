// All sessions, in memory and in the journal: create, look up, remove, recover, expire.
import { nanoid } from 'nanoid';
import type { AnalysisKind, SessionEvent, SessionMeta, SessionStatus } from './events.js';
import { Journal } from './journal.js';
import { Session } from './session.js';
import { TERMINAL_EVENTS } from './events.js';

/** nanoid's default alphabet and length: 21 URL-safe characters. */
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{21}$/;
export const isSessionId = (s: string) => SESSION_ID_RE.test(s);

export interface NewSession {
  analysisType: AnalysisKind;
  params: Record<string, unknown>;
  filename: string | null;
  uploadLength?: number | null;
  /** Use this id (e.g. generated before the upload finished); defaults to a new nanoid. */
  sessionId?: string;
}

export interface RecoveryReport {
  restored: number;
  /** Sessions that were queued and never started: they can run now. */
  requeue: Session[];
  /** Sessions that were processing when the process died, now failed with `interrupted`. */
  interrupted: number;
  /** Resumable uploads still in progress. */
  uploading: Session[];
}

export class SessionStore {
  readonly journal: Journal;
  private readonly sessions = new Map<string, Session>();

  constructor(dataDir: string) {
    this.journal = new Journal(dataDir);
  }

  create(spec: NewSession, status: SessionStatus): Session {
    const meta: SessionMeta = {
      sessionId: spec.sessionId ?? nanoid(),
      analysisType: spec.analysisType,
      params: spec.params,
      createdAt: new Date().toISOString(),
      filename: spec.filename,
      uploadLength: spec.uploadLength ?? null,
    };
    this.journal.create(meta);
    const session = this.adopt(meta, status, []);
    session.append('status', { status });
    return session;
  }

  get(id: string): Session | undefined {
    return isSessionId(id) ? this.sessions.get(id) : undefined;
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Forgets the session and deletes its files. */
  remove(id: string): boolean {
    const had = this.sessions.delete(id);
    this.journal.remove(id);
    return had;
  }

  videoPath(id: string): string {
    return this.journal.videoPath(id);
  }

  /** Loads the journal after a start: nothing stays `processing` forever. */
  recover(): RecoveryReport {
    this.journal.clearIncoming();
    const report: RecoveryReport = { restored: 0, requeue: [], interrupted: 0, uploading: [] };
    for (const { meta, events } of this.journal.loadAll()) {
      const session = this.adopt(meta, 'pending', events);
      report.restored++;
      switch (session.state.status) {
        case 'processing':
          session.transition('failed', {
            error: { code: 'interrupted', message: 'The server stopped while this video was being analysed; upload it again.' },
          });
          report.interrupted++;
          break;
        case 'pending':
          report.requeue.push(session);
          break;
        case 'uploading':
          report.uploading.push(session);
          break;
      }
    }
    report.requeue.sort((a, b) => a.meta.createdAt.localeCompare(b.meta.createdAt));
    return report;
  }

  /** Sessions whose last activity is older than ttlMs; the caller stops their work first. */
  expired(now: number, ttlMs: number): Session[] {
    const out: Session[] = [];
    for (const s of this.sessions.values()) {
      if (now - Date.parse(s.state.updatedAt) > ttlMs) out.push(s);
    }
    return out;
  }

  close(): void {
    this.journal.closeAll();
  }

  private adopt(meta: SessionMeta, status: SessionStatus, history: SessionEvent[]): Session {
    const session = new Session(meta, status, (s, ev) => {
      const terminal = TERMINAL_EVENTS.has(ev.type);
      this.journal.append(s.id, ev, terminal);
      if (terminal) this.journal.close(s.id);
    }, history);
    this.sessions.set(meta.sessionId, session);
    return session;
  }
}
