// Worker-thread side of SmolVLMClient: loads the model once, then serves describe requests one at
// a time, so inference never runs on the server's JS thread.
import { parentPort, workerData } from 'node:worker_threads';
import { CancelledError, SmolVLM, type DescribeRequest } from './smolvlm.js';

export interface WorkerInit {
  dir: string;
}

export type ToWorker =
  | { type: 'describe'; id: number; request: DescribeRequest; cancel: SharedArrayBuffer; stream: boolean };

export type FromWorker =
  | { type: 'ready'; info: WorkerInfo }
  | { type: 'load-error'; message: string }
  | { type: 'token'; id: number; token: number; text: string }
  | { type: 'result'; id: number; result: import('./smolvlm.js').DescribeResult }
  | { type: 'error'; id: number; name: string; message: string };

export interface WorkerInfo {
  dir: string;
  videoSampling: { fps: number; maxFrames: number; frameSize: number };
  imageSeqLen: number;
  loadMs: number;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('smolvlm worker: not started as a worker thread');
  const init = workerData as WorkerInit;
  const t0 = performance.now();
  let vlm: SmolVLM;
  try {
    vlm = await SmolVLM.load(init.dir);
  } catch (e) {
    port.postMessage({ type: 'load-error', message: (e as Error).message } satisfies FromWorker);
    return;
  }
  port.postMessage({
    type: 'ready',
    info: { dir: init.dir, videoSampling: vlm.videoSampling, imageSeqLen: vlm.folder.processor.imageSeqLen, loadMs: performance.now() - t0 },
  } satisfies FromWorker);
  // Requests are handled strictly one after another (describe() yields to the event loop to
  // free memory, so without the chain a second request could start in the middle of the first).
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    if (msg.type !== 'describe') return;
    chain = chain.then(() => handle(msg));
  });
  const handle = async (msg: Extract<ToWorker, { type: 'describe' }>): Promise<void> => {
    const flag = new Int32Array(msg.cancel);
    try {
      const result = await vlm.describe(msg.request, {
        shouldStop: () => Atomics.load(flag, 0) !== 0,
        onToken: msg.stream ? (token, text) => port.postMessage({ type: 'token', id: msg.id, token, text } satisfies FromWorker) : undefined,
      });
      port.postMessage({ type: 'result', id: msg.id, result } satisfies FromWorker);
    } catch (e) {
      const err = e as Error;
      port.postMessage({ type: 'error', id: msg.id, name: err instanceof CancelledError ? 'CancelledError' : err.name, message: err.message } satisfies FromWorker);
    }
  };
}

void main();
