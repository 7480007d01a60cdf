// Job mechanics: cancellation latency, concurrent jobs, worker_threads, thread cleanup.
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, EngineError, SignalJob, type HighlightsResult } from '../../src/engine/index.js';
import { activeThreads, extractFrames, probe } from '../../src/engine/native.js';
import { makeTestVideo } from '../helpers/media.js';
import { collect, tempDir, within } from './util.js';

const tmp = tempDir();
const engine = createSignalEngine();
let long: string;
let short: string;

test.before(async () => {
  long = await makeTestVideo(tmp.dir, { seconds: 120, width: 1280, height: 720, audio: true, name: 'long.mp4' });
  short = await makeTestVideo(tmp.dir, { seconds: 6, width: 320, height: 240, audio: true, name: 'short.mp4' });
});
test.after(async () => {
  await engine.close();
  tmp.remove();
});

const params = { min_significance: 6, max_highlights: 10 };

async function expectCancelled(job: SignalJob) {
  try {
    await job.result;
    assert.unreachable('should be cancelled');
  } catch (err) {
    assert.instance(err, EngineError);
    assert.is((err as EngineError).code, 'cancelled');
  }
}

test('cancel mid-analysis stops the native work within 100 ms', async () => {
  const job = engine.analyze({ type: 'highlights', file: long, params });
  let completed = false;
  job.events.subscribe({ complete: () => (completed = true) });
  // Wait until decoding is under way.
  await new Promise<void>((resolve) => {
    const sub = job.events.subscribe((e) => {
      if (e.type === 'segment') {
        resolve();
        queueMicrotask(() => sub.unsubscribe());
      }
    });
  });
  const t0 = performance.now();
  job.cancel();
  job.cancel(); // idempotent
  await within(job.closed, 1000, 'native job exit');
  const ms = performance.now() - t0;
  assert.ok(ms < 100, `native thread stopped after ${ms.toFixed(1)} ms`);
  await expectCancelled(job);
  assert.ok(completed, 'events completed');
});

test('cancel during the baseline pass and right after start', async () => {
  for (const delay of [0, 5, 30]) {
    const job = engine.analyze({ type: 'highlights', file: long, params });
    await new Promise((r) => setTimeout(r, delay));
    const t0 = performance.now();
    job.cancel();
    await within(job.closed, 1000, 'native job exit');
    assert.ok(performance.now() - t0 < 100, `delay ${delay}: ${performance.now() - t0} ms`);
    await expectCancelled(job);
  }
});

test('extractFrames and probe stop when their AbortSignal fires', async () => {
  const timestamps = Array.from({ length: 100 }, (_, i) => i + 0.5);
  const controller = new AbortController();
  const pending = extractFrames(long, timestamps, 512, { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  controller.abort();
  try {
    await pending;
    assert.unreachable('should be cancelled');
  } catch (err) {
    assert.instance(err, EngineError);
    assert.is((err as EngineError).code, 'cancelled');
  }
  assert.ok(performance.now() - t0 < 200, `rejected after ${performance.now() - t0} ms`);
  try {
    await probe(long, { signal: AbortSignal.abort() });
    assert.unreachable('should be cancelled');
  } catch (err) {
    assert.is((err as EngineError).code, 'cancelled');
  }
});

test('several jobs at once give the same results as one at a time', async () => {
  const alone = (await engine.analyze({ type: 'highlights', file: short, params }).result) as HighlightsResult;
  const jobs = Array.from({ length: 4 }, (_, i) =>
    engine.analyze(i % 2 ? { type: 'workout', file: short, params: { segment_duration: 2 } } : { type: 'highlights', file: short, params }),
  );
  const outcomes = await Promise.all(jobs.map(collect));
  for (const [i, o] of outcomes.entries()) {
    assert.ok(o.result, `job ${i} failed: ${String(o.error)}`);
    if (i % 2 === 0) assert.equal((o.result as HighlightsResult).all_analyses, alone.all_analyses);
  }
});

test('a cancelled job does not disturb the others', async () => {
  const a = engine.analyze({ type: 'highlights', file: long, params });
  const b = engine.analyze({ type: 'highlights', file: short, params });
  setTimeout(() => a.cancel(), 20);
  await expectCancelled(a);
  const rb = (await b.result) as HighlightsResult;
  assert.ok(rb.all_analyses.length > 0);
});

test('late subscribers get the replayed events', async () => {
  const job = engine.analyze({ type: 'highlights', file: short, params });
  const r = (await job.result) as HighlightsResult;
  const { events, completed } = await collect(job);
  assert.ok(completed);
  assert.is(events.filter((e) => e.type === 'segment').length, r.all_analyses.length);
});

test('the addon loads and works in worker threads', async () => {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(workerData.addon);
    addon.probe(workerData.file).then(
      (info) => new Promise((resolve) => {
        const events = [];
        addon.startJob(workerData.file, { segmentDuration: 2 }, (e) => {
          events.push(e.type);
          if (e.type === 'closed') resolve({ info, events });
        });
      }),
    ).then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ error: e.message }));
  `;
  const addon = new URL('../../../build/Release/engine.node', import.meta.url).pathname;
  const results = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<{ info?: { width: number }; events?: string[]; error?: string }>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { addon, file: short } });
          w.once('message', (m) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  );
  for (const r of results) {
    assert.is(r.error, undefined);
    assert.is(r.info?.width, 320);
    assert.ok(r.events?.includes('done'));
    assert.is(r.events?.[r.events.length - 1], 'closed');
  }
  // A worker terminated in the middle of a job: its threads are cancelled and joined.
  const w = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const addon = require(workerData.addon);
     addon.startJob(workerData.file, { segmentDuration: 3 }, () => {});
     parentPort.postMessage('started');`,
    { eval: true, workerData: { addon, file: long } },
  );
  await new Promise((r) => w.once('message', r));
  const t0 = performance.now();
  await within(w.terminate(), 2000, 'worker termination');
  assert.ok(performance.now() - t0 < 1000);
});

test('workers terminated at random moments while jobs, probes and frame extractions run', async () => {
  const addon = new URL('../../../build/Release/engine.node', import.meta.url).pathname;
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const addon = require(workerData.addon);
    for (const f of workerData.files) {
      addon.startJob(f, { segmentDuration: 0.5, series: true }, () => {});
      addon.probe(f).catch(() => {});
      addon.extractFrames(f, [0, 1, 2, 3], 64).catch(() => {});
    }
    parentPort.postMessage('started');`;
  for (let i = 0; i < 15; i++) {
    const w = new Worker(code, { eval: true, workerData: { addon, files: [long, short, short] } });
    await new Promise((r) => w.once('message', r));
    await new Promise((r) => setTimeout(r, (i * 37) % 200));
    await within(w.terminate(), 2000, 'worker termination');
  }
});

test('engine.close() cancels running jobs; no native threads are left', async () => {
  const other = createSignalEngine();
  const job = other.analyze({ type: 'highlights', file: long, params });
  await new Promise((r) => setTimeout(r, 50));
  await within(other.close(), 1000, 'close');
  await expectCancelled(job as SignalJob);
  const late = other.analyze({ type: 'highlights', file: short, params });
  await expectCancelled(late as SignalJob);
  await new Promise((r) => setTimeout(r, 50));
  assert.is(activeThreads(), 0);
});

test.run();
