// Persistence as an append-only journal per session under DATA_DIR/sessions/<id>/ (layout.ts):
//   session.json  metadata, written once (atomically) at creation
//   events.jsonl  one JSON event per line, appended synchronously before subscribers see it
//   result.json   the final result, written (atomically) before the `completed` event
//   video         the uploaded file (owned by the upload store)
// Why a journal and not SQLite: the event log *is* the data model (state is a fold of it), the
// writes are appends, recovery is "read the lines back", and it needs no native dependency.
// A torn last line after a crash is skipped on recovery.
import fs from 'node:fs';
import path from 'node:path';
import type { SessionEvent, SessionMeta } from './events.js';
import type { DataLayout } from './layout.js';
import { storageError } from './storage.js';

export interface StoredSession {
  meta: SessionMeta;
  events: SessionEvent[];
}

/** An open journal and the length of its whole lines. */
interface OpenJournal {
  fd: number;
  size: number;
}

/** Journal files kept open at once; appends to other sessions reopen theirs (LRU). */
const MAX_OPEN_JOURNALS = 32;

const DISK_BYTES_MAX_AGE_MS = 1000;
const MAX_SIZES = 4096;

export class Journal {
  /** Open journal files, least recently used first (Map keeps insertion order). */
  private readonly files = new Map<string, OpenJournal>();
  private readonly sizes = new Map<string, { at: number; bytes: number }>();

  constructor(private readonly layout: DataLayout) {
    try {
      layout.createRoot();
      layout.ensure(layout.sessionsDir);
    } catch (err) {
      throw storageError(err, 'create the data directory');
    }
  }

  create(meta: SessionMeta): void {
    const dir = this.layout.sessionDir(meta.sessionId);
    try {
      this.layout.ensure(this.layout.sessionsDir);
      fs.mkdirSync(dir);
      writeAtomic(path.join(dir, 'session.json'), JSON.stringify(meta));
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw storageError(err, 'create the session');
    }
  }

  /**
   * Appends events (one line each); `durable` also flushes them to the disk. Throws a
   * StorageError, after cutting the file back to its last whole line: a write that failed half
   * way (a full disk) must not leave a torn line for later appends to follow.
   */
  append(id: string, events: SessionEvent[], durable: boolean): void {
    let file: OpenJournal | undefined;
    try {
      file = this.open(id);
      const data = Buffer.from(events.map((ev) => JSON.stringify(ev) + '\n').join(''));
      for (let off = 0; off < data.length; ) off += fs.writeSync(file.fd, data, off, data.length - off, file.size + off);
      if (durable) fs.fdatasyncSync(file.fd);
      file.size += data.length;
    } catch (err) {
      if (file) {
        try {
          fs.ftruncateSync(file.fd, file.size);
        } catch {
          // recovery stops at a torn line anyway
        }
      }
      this.close(id);
      throw storageError(err, 'record the session event');
    }
  }

  /** The session's journal file, open for appending (least recently used ones are closed). */
  private open(id: string): OpenJournal {
    let file = this.files.get(id);
    if (file !== undefined) {
      this.files.delete(id); // move to the most recently used end
    } else {
      if (this.files.size >= MAX_OPEN_JOURNALS) this.close(this.files.keys().next().value!);
      const fd = fs.openSync(path.join(this.layout.sessionDir(id), 'events.jsonl'), 'a');
      file = { fd, size: fs.fstatSync(fd).size };
    }
    this.files.set(id, file);
    return file;
  }

  /** Closes the session's journal file (after its terminal event). */
  close(id: string): void {
    const file = this.files.get(id);
    if (file !== undefined) {
      this.files.delete(id);
      try {
        fs.closeSync(file.fd);
      } catch {
        // nothing left to flush: appends are written synchronously
      }
    }
  }

  /** Writes the final result (atomically). Throws a StorageError. */
  writeResult(id: string, result: unknown): void {
    try {
      writeAtomic(path.join(this.layout.sessionDir(id), 'result.json'), JSON.stringify(result));
    } catch (err) {
      throw storageError(err, 'store the results');
    }
  }

  /** The stored result as JSON text (written by writeResult), or null. */
  readResultText(id: string): string | null {
    try {
      return fs.readFileSync(path.join(this.layout.sessionDir(id), 'result.json'), 'utf8');
    } catch {
      return null;
    }
  }

  /**
   * What the session's folder takes on disk, its media subfolder included (0 when it cannot be
   * read). Measured at most once a second per session: status reads come far more often, and a
   * folder walk per read cost them most of their throughput.
   */
  diskBytes(id: string): number {
    const now = Date.now();
    const hit = this.sizes.get(id);
    if (hit && now - hit.at < DISK_BYTES_MAX_AGE_MS) return hit.bytes;
    const bytes = folderBytes(this.layout.sessionDir(id));
    this.sizes.delete(id); // re-inserted last: the map stays in least-recently-measured order
    this.sizes.set(id, { at: now, bytes });
    if (this.sizes.size > MAX_SIZES) this.sizes.delete(this.sizes.keys().next().value!);
    return bytes;
  }

  /** Deletes the session's folder. Throws a StorageError. */
  remove(id: string): void {
    this.close(id);
    try {
      fs.rmSync(this.layout.sessionDir(id), { recursive: true, force: true, maxRetries: 2 });
    } catch (err) {
      throw storageError(err, 'delete the session');
    }
  }

  /** Every stored session; unreadable ones are removed (they cannot be served). */
  loadAll(): StoredSession[] {
    const out: StoredSession[] = [];
    for (const id of fs.readdirSync(this.layout.sessionsDir)) {
      const dir = this.layout.sessionDir(id);
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
    for (const id of [...this.files.keys()]) this.close(id);
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

function folderBytes(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0; // removed meanwhile
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(p);
    else {
      try {
        total += fs.statSync(p).size;
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}
