// The worker-thread client: same results as in-process inference, the JS thread keeps running
// while the model works, cancellation, streaming, ordering and load errors.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SmolVLMClient } from '../../src/engine/smolvlm/client.js';
import { CancelledError, SmolVLM, type DescribeRequest } from '../../src/engine/smolvlm/smolvlm.js';
import { reclaim } from '../../src/engine/smolvlm/mlx.js';
import { picture, tempDir, writeRandomModel } from './helpers.js';

const dir = join(tempDir(), 'model');
writeRandomModel(dir, {
  vision: { hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 4, imageSize: 128, patchSize: 8 },
  text: { hiddenSize: 256, intermediateSize: 768, numLayers: 6, numHeads: 4, numKvHeads: 2, headDim: 64 },
  maxFrames: 16,
}, 7);

function frames(n: number): DescribeRequest['frames'] {
  return Array.from({ length: n }, (_, k) => ({ ...picture(160, 90, k), timestamp: k * 0.5 }));
}

const heavy: DescribeRequest = { frames: frames(12), system: 'You are a video analyst.', prompt: 'What happens?', maxTokens: 48, stopAtEndOfUtterance: false };

/** Runs fn while a 5 ms interval ticks; returns the largest and 90th-percentile gaps between ticks. */
async function tickGaps(fn: () => Promise<unknown>): Promise<{ max: number; p90: number; ms: number }> {
  let last = performance.now();
  const gaps: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 20));
  await fn();
  const ms = performance.now() - t0;
  gaps.push(performance.now() - last);
  clearInterval(timer);
  gaps.sort((a, b) => a - b);
  return { max: gaps[gaps.length - 1], p90: gaps[Math.floor(gaps.length * 0.9)], ms };
}

let client: SmolVLMClient;
let local: SmolVLM;

test.before(async () => {
  client = await SmolVLMClient.start(dir);
  local = await SmolVLM.load(dir);
});

test.after(async () => {
  await client?.close();
});

test('worker results equal in-process results', async () => {
  const a = await client.describe(heavy);
  const b = await local.describe(heavy);
  assert.equal(a.tokens, b.tokens);
  assert.is(a.text, b.text);
  assert.is(a.tokens.length, 48);
  assert.is(a.numImages, 12);
  assert.is(a.stopReason, 'length');
  assert.ok(a.timings.visionMs > 0 && a.timings.decodeTokensPerSecond > 0);
  assert.is(client.info.videoSampling.maxFrames, 16);
});

test('the JS thread keeps ticking while the worker generates (and does not under synchronous inference)', async () => {
  const viaWorker = await tickGaps(() => client.describe(heavy));
  // reference: the same model computing synchronously on this thread blocks the interval
  const prompt = local.processor.process(local.processor.applyChatTemplate(local.messages({ prompt: 'x', media: 'none' })));
  const embeds = local.model.embedInputs(prompt.inputIds.concat(...new Array(30).fill(prompt.inputIds)), null);
  const blocking = await tickGaps(async () => {
    const t0 = performance.now();
    while (performance.now() - t0 < 400) local.model.forward(embeds);
  });
  await reclaim(); // finalize this thread's garbage now rather than during the next test
  console.log(`worker describe ${viaWorker.ms.toFixed(0)} ms: tick gaps p90 ${viaWorker.p90.toFixed(1)} ms, max ${viaWorker.max.toFixed(1)} ms; synchronous: max ${blocking.max.toFixed(0)} ms`);
  assert.ok(viaWorker.ms > 150, `the workload is long enough to matter (${viaWorker.ms} ms)`);
  assert.ok(viaWorker.p90 < 30, `p90 gap ${viaWorker.p90} ms with the worker`);
  assert.ok(viaWorker.max < 250, `max gap ${viaWorker.max} ms with the worker`);
  assert.ok(blocking.max >= 250, `synchronous inference blocks the loop (${blocking.max} ms): the measurement can fail`);
});

test('cancellation rejects at once and the worker stays usable', async () => {
  const ac = new AbortController();
  const long = client.describe({ ...heavy, maxTokens: 100000 }, { signal: ac.signal });
  await new Promise((r) => setTimeout(r, 150));
  const t0 = performance.now();
  ac.abort();
  const err = await long.then(() => null, (e: Error) => e);
  assert.instance(err, CancelledError);
  assert.ok(performance.now() - t0 < 100, 'rejected within 100 ms');
  const t1 = performance.now();
  const next = await client.describe({ image: picture(64, 48), prompt: 'Describe.', maxTokens: 4, stopAtEndOfUtterance: false });
  assert.is(next.tokens.length, 4);
  assert.ok(performance.now() - t1 < 5000, 'the cancelled request stopped early instead of generating 100000 tokens');
  const pre = new AbortController();
  pre.abort();
  await client.describe(heavy, { signal: pre.signal }).then(() => assert.unreachable(), (e) => assert.instance(e, CancelledError));
});

test('streaming tokens and ordered concurrent requests', async () => {
  const seen: string[] = [];
  const a = client.describe({ ...heavy, maxTokens: 8 }, { onToken: (text) => seen.push(text) });
  const b = client.describe({ image: picture(64, 48), prompt: 'Describe.', maxTokens: 6, stopAtEndOfUtterance: false });
  assert.is(client.busy, 2);
  const order: string[] = [];
  void a.then(() => order.push('a'));
  void b.then(() => order.push('b'));
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(order, ['a', 'b'], 'the short second request waits for the first');
  assert.is(seen.length, ra.tokens.length);
  assert.is(seen[seen.length - 1].trim(), ra.text);
  const lb = await local.describe({ image: picture(64, 48), prompt: 'Describe.', maxTokens: 6, stopAtEndOfUtterance: false });
  assert.equal(rb.tokens, lb.tokens);
});

test('a missing model folder fails to start with a message', async () => {
  const err = await SmolVLMClient.start(join(dir, 'nope')).then(() => null, (e: Error) => e);
  assert.ok(err);
  assert.match(err!.message, /config\.json not found/);
});

test.run();
