// The KV-cached decoder agrees with full forward passes, across cache growth (256-position steps).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../../src/engine/smolvlm/generate.js';
import { maxAbsDiff, mx, toTyped } from '../../src/engine/smolvlm/mlx.js';
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

test.run();
