// Persistence as an append-only journal per session under DATA_DIR/sessions/<id>/:
//   session.json  metadata, written once (atomically) at creation
//   events.jsonl  one JSON event per line, appended synchronously before subscribers see it
//   result.json   the final result, written (atomically) before the `completed` event
//   video*        the uploaded file
// Why a journal and not SQLite: the event log *is* the data model (state is a fold of it), the
// writes are appends, recovery is "read the lines back", and it needs no native dependency.
// A torn last line after a crash is skipped on recovery.
import fs from 'node:fs';
import path from 'node:path';
import type { SessionEvent, SessionMeta } from './events.js';

export interface StoredSession {
  meta: SessionMeta;
  events: SessionEvent[];
}

export class Journal {
  readonly sessionsDir: string;
  readonly incomingDir: string;
  private readonly fds = new Map<string, number>();

  constructor(readonly dataDir: string) {
    this.sessionsDir = path.join(dataDir, 'sessions');
    this.incomingDir = path.join(dataDir, 'incoming');
    fs.mkdirSync(this.sessionsDir, { recursive: true });
    fs.mkdirSync(this.incomingDir, { recursive: true });
  }

  dir(id: string): string {
    return path.join(this.sessionsDir, id);
  }

  /** Where a session's uploaded video lives. */
  videoPath(id: string): string {
    return path.join(this.dir(id), 'video');
  }

  /** A fresh temporary path for an upload in progress (never derived from client input). */
  incomingPath(token: string): string {
    return path.join(this.incomingDir, `${token}.part`);
  }

  /** Removes leftovers of uploads that were in flight when the process died. */
  clearIncoming(): void {
    for (const name of fs.readdirSync(this.incomingDir)) fs.rmSync(path.join(this.incomingDir, name), { force: true });
  }

  create(meta: SessionMeta): void {
    const dir = this.dir(meta.sessionId);
    fs.mkdirSync(dir, { recursive: true });
    writeAtomic(path.join(dir, 'session.json'), JSON.stringify(meta));
  }

  append(id: string, ev: SessionEvent, durable: boolean): void {
    let fd = this.fds.get(id);
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir(id), 'events.jsonl'), 'a');
      this.fds.set(id, fd);
    }
    fs.writeSync(fd, JSON.stringify(ev) + '\n');
    if (durable) fs.fdatasyncSync(fd);
  }

  /** Closes the session's journal file (after its terminal event). */
  close(id: string): void {
    const fd = this.fds.get(id);
    if (fd !== undefined) {
      this.fds.delete(id);
      fs.closeSync(fd);
    }
  }

  writeResult(id: string, result: unknown): void {
    writeAtomic(path.join(this.dir(id), 'result.json'), JSON.stringify(result));
  }

  readResult<T>(id: string): T | null {
    const text = this.readResultText(id);
    return text === null ? null : (JSON.parse(text) as T);
  }

  /** The stored result as JSON text (written by writeResult), or null. */
  readResultText(id: string): string | null {
    try {
      return fs.readFileSync(path.join(this.dir(id), 'result.json'), 'utf8');
    } catch {
      return null;
    }
  }

  remove(id: string): void {
    this.close(id);
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Every stored session; unreadable ones are removed (they cannot be served). */
  loadAll(): StoredSession[] {
    const out: StoredSession[] = [];
    for (const id of fs.readdirSync(this.sessionsDir)) {
      const dir = this.dir(id);
      let meta: SessionMeta;
      try {
        meta = JSON.parse(fs.readFileSync(path.join(dir, 'session.json'), 'utf8')) as SessionMeta;
        if (meta.sessionId !== id) throw new Error('id mismatch');
      } catch {
        fs.rmSync(dir, { recursive: true, force: true });
        continue;
      }
      out.push({ meta, events: readEvents(path.join(dir, 'events.jsonl')) });
    }
    return out;
  }

  closeAll(): void {
    for (const id of [...this.fds.keys()]) this.close(id);
  }
}

/** Reads the valid prefix of a journal, truncating a torn tail so later appends stay readable. */
function readEvents(file: string): SessionEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const events: SessionEvent[] = [];
  let validBytes = 0;
  for (const line of text.split('\n')) {
    if (!line) break;
    let ev: SessionEvent;
    try {
      ev = JSON.parse(line) as SessionEvent;
    } catch {
      break; // torn write at the end of the file
    }
    if (ev.seq !== events.length + 1) break; // never serve a log with gaps
    events.push(ev);
    validBytes += Buffer.byteLength(line) + 1;
  }
  if (validBytes < Buffer.byteLength(text)) fs.truncateSync(file, validBytes);
  return events;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
