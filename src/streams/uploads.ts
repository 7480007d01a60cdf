// Every file of an upload, and every filesystem call made for one: multipart bodies received
// into DATA_DIR/incoming and then adopted by their session, resumable (tus) uploads written in
// place at an offset, and the checks that say whether DATA_DIR can take more. Failures come out
// as StorageErrors, whose messages never carry a path.
import fs from 'node:fs';
import path from 'node:path';
import { nanoid } from 'nanoid';
import { FileWriter } from './file-writer.js';
import type { DataLayout } from './layout.js';
import { storageError, type StorageError } from './storage.js';
import type { IncomingUpload, StorageHealth, UploadStore } from './stores.js';

/** A multipart upload being received into DATA_DIR/incoming: written, then adopted by a session or discarded. */
export class IncomingFile implements IncomingUpload {
  readonly writer: FileWriter;

  constructor(
    /** For the engine's probe; never shown to clients. */
    readonly path: string,
  ) {
    this.writer = new FileWriter(path, { flags: 'wx', action: 'store the upload' });
  }

  /** Stops writing and deletes the file. Never rejects. */
  async discard(): Promise<void> {
    await this.writer.abort();
    await fs.promises.rm(this.path, { force: true }).catch(() => {});
  }
}

/** Below this much free space DATA_DIR is reported as degraded. */
const LOW_SPACE_BYTES = 64 * 1024 * 1024;

export class FileUploadStore implements UploadStore {
  private health: { at: number; value: StorageHealth } | null = null;

  constructor(private readonly layout: DataLayout) {}

  /** Starts receiving a multipart upload into a fresh file (its name never comes from the client). */
  receive(): IncomingUpload {
    try {
      this.layout.ensureIncoming();
    } catch {
      // reported by the writer's open, with the same cause
    }
    return new IncomingFile(this.layout.incomingPath(nanoid()));
  }

  /** Moves a fully received upload into its session's folder. */
  adopt(incoming: IncomingUpload, sessionId: string): void {
    try {
      fs.renameSync(incoming.path, this.layout.videoPath(sessionId));
    } catch (err) {
      throw storageError(err, 'store the upload');
    }
  }

  /** Creates the empty file of a resumable upload. */
  createResumable(sessionId: string): void {
    try {
      fs.writeFileSync(this.layout.videoPath(sessionId), '', { flag: 'wx' });
    } catch (err) {
      throw storageError(err, 'create the upload');
    }
  }

  /** Bytes of a resumable upload on disk (an upload restored after a restart starts from here). */
  offset(sessionId: string): number {
    try {
      return fs.statSync(this.layout.videoPath(sessionId)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.createResumable(sessionId);
        return 0;
      }
      throw storageError(err, 'read the upload');
    }
  }

  /** A writer that continues a resumable upload at `offset`. */
  appendAt(sessionId: string, offset: number): FileWriter {
    return new FileWriter(this.layout.videoPath(sessionId), { flags: 'r+', start: offset, action: 'store the upload' });
  }

  /** Cuts a resumable upload back to `length` bytes (a body that was refused). Gone files are fine. */
  truncate(sessionId: string, length: number): void {
    try {
      fs.truncateSync(this.layout.videoPath(sessionId), length);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storageError(err, 'discard the refused bytes');
    }
  }

  /** Whether a session's video is still on disk (an engine that cannot open it may mean it is not). */
  hasVideo(sessionId: string): boolean {
    return fs.existsSync(this.layout.videoPath(sessionId));
  }

  /** Deletes a session's video (VIDEO_TTL); a video already gone is fine. */
  removeVideo(sessionId: string): void {
    try {
      fs.rmSync(this.layout.videoPath(sessionId), { force: true });
    } catch (err) {
      throw storageError(err, 'delete the video');
    }
  }

  /** The video of a session, for the engine. */
  videoPath(sessionId: string): string {
    return this.layout.videoPath(sessionId);
  }

  /** Removes leftovers of multipart uploads that were in flight when the process died. */
  clearIncoming(): void {
    this.layout.ensureIncoming();
    for (const name of fs.readdirSync(this.layout.incomingDir)) fs.rmSync(path.join(this.layout.incomingDir, name), { force: true });
  }

  /** Free bytes under DATA_DIR, or null when the filesystem does not say. */
  freeBytes(): number | null {
    try {
      const s = fs.statfsSync(this.layout.root);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }

  /**
   * Whether DATA_DIR takes writes now: a small file is written and removed, and free space is
   * checked. A writable answer is cached for a second; a failure is checked again every time,
   * so the service takes uploads again as soon as the disk is back.
   */
  checkHealth(now = Date.now()): StorageHealth {
    if (this.health && this.health.value.writable && now - this.health.at < 1000) return this.health.value;
    let error: StorageError | null = null;
    const probe = this.layout.incomingPath(`health-${process.pid}`);
    try {
      this.layout.ensureIncoming();
      fs.writeFileSync(probe, 'ok');
      fs.rmSync(probe, { force: true });
    } catch (err) {
      error = storageError(err, 'write to the data directory');
      try {
        fs.rmSync(probe, { force: true }); // created but not written (a full disk)
      } catch {
        // nothing was created
      }
    }
    const freeBytes = this.freeBytes();
    let problem = error?.message ?? null;
    if (!error && freeBytes !== null && freeBytes < LOW_SPACE_BYTES) problem = `The data directory has only ${Math.floor(freeBytes / 1024 / 1024)} MiB free`;
    const value = { writable: !error, freeBytes, problem, error };
    this.health = { at: now, value };
    return value;
  }
}
