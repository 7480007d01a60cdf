// Writes a request body to a file, one chunk after another at explicit positions. It exists
// because fs.WriteStream fails in ways a server cannot afford: destroying it while a write is
// pending rejects that write (ERR_STREAM_DESTROYED) with nobody listening, and its 'error' event
// ends the process unless every caller remembered a handler. Here every failure is caught, kept
// as a StorageError and reported through finish() or onError, and abort() is always safe.
import fs from 'node:fs/promises';
import { storageError, type StorageError } from './storage.js';

export interface FileWriterOptions {
  /** 'wx': a new file; 'r+': an existing one, written from `start`. */
  flags: 'wx' | 'r+';
  start?: number;
  /** Queued bytes above which write() asks the caller to wait for drain (default 1 MiB). */
  highWaterMark?: number;
  /** What the error message says could not be done ("store the upload"). */
  action: string;
}

export class FileWriter {
  /** Bytes that reached the file. */
  written = 0;
  private readonly start: number;
  private readonly highWaterMark: number;
  private readonly queue: Buffer[] = [];
  /** Bytes queued or being written. */
  private pendingBytes = 0;
  private failure: StorageError | null = null;
  private stopped = false;
  private readonly handle: Promise<fs.FileHandle | null>;
  private pump: Promise<void> = Promise.resolve();
  private pumping = false;
  private drainWaiters: Array<() => void> = [];
  private errorListener: ((err: StorageError) => void) | null = null;

  constructor(
    readonly path: string,
    private readonly opts: FileWriterOptions,
  ) {
    this.start = opts.start ?? 0;
    this.highWaterMark = opts.highWaterMark ?? 1 << 20;
    this.handle = fs.open(path, opts.flags).catch((err) => {
      this.fail(err);
      return null;
    });
  }

  get error(): StorageError | null {
    return this.failure;
  }

  /** Called once, on the first failure. */
  onError(listener: (err: StorageError) => void): void {
    this.errorListener = listener;
    if (this.failure) listener(this.failure);
  }

  /** Queues a chunk; false when the caller should wait for onceDrain before writing more. */
  write(chunk: Buffer): boolean {
    if (this.stopped || this.failure) return true;
    this.queue.push(chunk);
    this.pendingBytes += chunk.length;
    if (!this.pumping) {
      this.pumping = true;
      this.pump = this.drainQueue();
    }
    return this.pendingBytes < this.highWaterMark;
  }

  /** Runs `cb` once the queue is below the high-water mark (or the writer stopped or failed). */
  onceDrain(cb: () => void): void {
    if (this.pendingBytes < this.highWaterMark || this.stopped || this.failure) cb();
    else this.drainWaiters.push(cb);
  }

  /** Writes what is queued and closes the file. Resolves with the bytes written, or rejects with the StorageError. */
  async finish(): Promise<number> {
    await this.pump;
    await this.close();
    if (this.failure) throw this.failure;
    return this.written;
  }

  /** Drops what is queued, waits for the write in flight and closes. Never rejects. */
  async abort(): Promise<number> {
    this.stopped = true;
    this.dropQueue();
    this.wake();
    await this.pump;
    await this.close();
    return this.written;
  }

  private async drainQueue(): Promise<void> {
    const fh = await this.handle;
    while (fh && this.queue.length > 0 && !this.stopped && !this.failure) {
      const chunk = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue);
      this.queue.length = 0;
      try {
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, this.start + this.written);
          off += bytesWritten;
          this.written += bytesWritten;
        }
      } catch (err) {
        this.fail(err);
      }
      this.pendingBytes -= chunk.length;
      if (this.pendingBytes < this.highWaterMark) this.wake();
    }
    this.pumping = false;
  }

  private closing: Promise<void> | null = null;
  private close(): Promise<void> {
    this.closing ??= this.handle.then((fh) => fh?.close()).catch((err) => this.fail(err));
    return this.closing;
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = storageError(err, this.opts.action);
    this.dropQueue();
    this.wake();
    this.errorListener?.(this.failure);
  }

  private dropQueue(): void {
    for (const c of this.queue) this.pendingBytes -= c.length;
    this.queue.length = 0;
  }

  private wake(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
