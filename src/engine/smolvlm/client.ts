// Main-thread client of the SmolVLM worker: same describe() API as SmolVLM, but the model runs
// in a worker thread. Requests queue in order; cancelling (AbortSignal) rejects at once and makes
// the worker stop at its next check (between images and between tokens).
import { Worker } from 'node:worker_threads';
// Only type imports besides errors.js: loading this module does not load MLX on the calling thread.
import { CancelledError } from './errors.js';
import type { DescribeRequest, DescribeResult } from './smolvlm.js';
import type { FromWorker, ToWorker, WorkerInfo } from './worker.js';

export { CancelledError };
export type { DescribeRequest, DescribeResult, WorkerInfo };

export interface DescribeCallOptions {
  signal?: AbortSignal;
  /** Receives the decoded text so far after each generated token. */
  onToken?: (text: string, token: number) => void;
  /** Transfer (detach) the frame buffers to the worker instead of copying them. */
  transfer?: boolean;
}

interface Pending {
  resolve: (r: DescribeResult) => void;
  reject: (e: Error) => void;
  onToken?: (text: string, token: number) => void;
  settled: boolean;
}

export class SmolVLMClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(private readonly worker: Worker, readonly info: WorkerInfo) {
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`smolvlm worker exited (${code})`)));
  }

  /** Starts a worker and loads the model folder in it. */
  static start(dir: string): Promise<SmolVLMClient> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { dir } });
    return new Promise((resolve, reject) => {
      const onMessage = (msg: FromWorker): void => {
        cleanup();
        if (msg.type === 'ready') resolve(new SmolVLMClient(worker, msg.info));
        else {
          void worker.terminate();
          reject(new Error(msg.type === 'load-error' ? `SmolVLM load failed: ${msg.message}` : 'smolvlm worker: unexpected message'));
        }
      };
      const onError = (err: Error): void => { cleanup(); reject(err); };
      const onExit = (code: number): void => { cleanup(); reject(new Error(`smolvlm worker exited during load (${code})`)); };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Requests queued or running in the worker. */
  get busy(): number {
    return this.pending.size;
  }

  describe(request: DescribeRequest, opts: DescribeCallOptions = {}): Promise<DescribeResult> {
    if (this.closed) return Promise.reject(new Error('SmolVLMClient is closed'));
    if (opts.signal?.aborted) return Promise.reject(new CancelledError());
    const id = this.nextId++;
    const cancel = new SharedArrayBuffer(4);
    const flag = new Int32Array(cancel);
    return new Promise<DescribeResult>((resolve, reject) => {
      const p: Pending = { resolve, reject, onToken: opts.onToken, settled: false };
      this.pending.set(id, p);
      if (opts.signal) {
        const onAbort = (): void => {
          Atomics.store(flag, 0, 1);
          if (!p.settled) {
            p.settled = true;
            reject(new CancelledError());
          }
        };
        opts.signal.addEventListener('abort', onAbort, { once: true });
        const done = (): void => opts.signal!.removeEventListener('abort', onAbort);
        p.resolve = (r) => { done(); resolve(r); };
        p.reject = (e) => { done(); reject(e); };
      }
      const transfer: ArrayBuffer[] = [];
      if (opts.transfer) {
        for (const f of request.frames ?? []) if (f.data.buffer instanceof ArrayBuffer) transfer.push(f.data.buffer);
        if (request.image && request.image.data.buffer instanceof ArrayBuffer) transfer.push(request.image.data.buffer);
      }
      const msg: ToWorker = { type: 'describe', id, request, cancel, stream: !!opts.onToken };
      this.worker.postMessage(msg, [...new Set(transfer)]);
    });
  }

  /** Stops the worker; pending requests reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
    this.failAll(new Error('SmolVLMClient closed'));
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'token') {
      const p = this.pending.get(msg.id);
      if (p && !p.settled) p.onToken?.(msg.text, msg.token);
      return;
    }
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const p = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (!p || p.settled) return;
    p.settled = true;
    if (msg.type === 'result') p.resolve(msg.result);
    else {
      const err = msg.name === 'CancelledError' ? new CancelledError() : new Error(msg.message);
      if (msg.name !== 'CancelledError') err.name = msg.name;
      p.reject(err);
    }
  }

  private failAll(err: Error): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (!p.settled) {
        p.settled = true;
        p.reject(err);
      }
    }
  }
}
