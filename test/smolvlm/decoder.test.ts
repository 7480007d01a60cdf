// The KV-cached decoder agrees with full forward passes, across cache growth (256-position steps).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../../src/engine/smolvlm/generate.js';
import { attention, maxAbsDiff, mx, toTyped } from '../../src/engine/smolvlm/mlx.js';
import { SmolVLMModel } from '../../src/engine/smolvlm/model.js';
import { randomWeights } from '../../src/engine/smolvlm/random.js';
import type { SmolVLMConfig } from '../../src/engine/smolvlm/config.js';

const config: SmolVLMConfig = {
  vision: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, patchSize: 8, imageSize: 16, numChannels: 3, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' },
  text: { hiddenSize: 64, intermediateSize: 128, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 97, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 4096, hiddenAct: 'silu', attentionBias: false, mlpBias: false },
  scaleFactor: 2, imageTokenId: 96, tieWordEmbeddings: false, quantization: null,
};
const model = new SmolVLMModel(config, randomWeights(config, 5));

function argmaxLast(ids: number[]): number {
  const logits = model.forward(model.embedInputs(ids, null));
  return mx.argmax(logits.index(0, -1)).item() as number;
}

test('greedy decoding with the cache equals argmax of full passes (prompt 250, crossing 256)', async () => {
  const prompt = Array.from({ length: 250 }, (_, i) => (i * 31 + 7) % 90);
  const gen = await generate(model, model.embedInputs(prompt, null), { maxTokens: 14, reclaimEvery: 3 });
  assert.is(gen.tokens.length, 14);
  const seq = [...prompt];
  for (const t of gen.tokens) {
    assert.is(t, argmaxLast(seq), `token at ${seq.length}`);
    seq.push(t);
  }
});

test('cached logits match uncached logits numerically, token by token', () => {
  const ids = Array.from({ length: 40 }, (_, i) => (i * 13 + 3) % 90);
  const full = toTyped(model.forward(model.embedInputs(ids, null))).data as Float32Array;
  const cache = model.newCache();
  const V = config.text.vocabSize;
  // prefill 25, then one token at a time
  const first = toTyped(model.forward(model.embedInputs(ids.slice(0, 25), null), cache)).data as Float32Array;
  assert.ok(maxAbsDiff(first, full.subarray(0, 25 * V)) < 1e-4);
  for (let i = 25; i < ids.length; i++) {
    const step = toTyped(model.forward(model.embedInputs([ids[i]], null), cache)).data as Float32Array;
    assert.ok(maxAbsDiff(step, full.subarray(i * V, (i + 1) * V)) < 1e-4, `position ${i}`);
  }
  assert.is(cache.offset, ids.length);
  assert.is(cache.capacity, 256);
});

test('sampling with a seed is reproducible and differs from greedy', async () => {
  const prompt = [1, 2, 3, 4, 5];
  const a = await generate(model, model.embedInputs(prompt, null), { maxTokens: 12, temperature: 5, seed: 11 });
  const b = await generate(model, model.embedInputs(prompt, null), { maxTokens: 12, temperature: 5, seed: 11 });
  const g = await generate(model, model.embedInputs(prompt, null), { maxTokens: 12 });
  assert.equal(a.tokens, b.tokens);
  assert.not.equal(a.tokens, g.tokens);
  const stopped = await generate(model, model.embedInputs(prompt, null), { maxTokens: 12, stopTokenIds: [g.tokens[2]] });
  assert.is(stopped.stopReason, 'eos');
  assert.equal(stopped.tokens, g.tokens.slice(0, g.tokens.indexOf(g.tokens[2]) + 1));
});

test('chunked attention equals one-shot attention (vision-sized, and causal GQA with a row mask)', () => {
  mx.random.seed(1);
  const q = mx.random.normal([1, 12, 1024, 64]), k = mx.random.normal([1, 12, 1024, 64]), v = mx.random.normal([1, 12, 1024, 64]);
  const pad = mx.array(Array.from({ length: 1024 }, (_, i) => (i > 1000 ? -1e30 : 0))).reshape(1, 1, 1, 1024);
  for (const m of [undefined, pad]) {
    const a = toTyped(attention(q, k, v, 0.125, m)).data;
    const b = toTyped(mx.fast.scaledDotProductAttention(q, k, v, 0.125, m)).data;
    assert.ok(maxAbsDiff(a, b) < 1e-5);
  }
  const L = 700, S = 768;
  const q2 = mx.random.normal([1, 9, L, 64]), k2 = mx.random.normal([1, 3, S, 64]), v2 = mx.random.normal([1, 3, S, 64]);
  const rows = mx.expandDims(mx.arange(0, L, 1, mx.int32), 1), cols = mx.expandDims(mx.arange(0, S, 1, mx.int32), 0);
  const causal = mx.where(mx.greater(cols, rows), mx.array(-Infinity), mx.array(0));
  const a = toTyped(attention(q2, k2, v2, 0.125, causal)).data;
  const b = toTyped(mx.fast.scaledDotProductAttention(q2, k2, v2, 0.125, causal)).data;
  assert.ok(maxAbsDiff(a, b) < 1e-5);
});

test.run();
