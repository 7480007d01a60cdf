// Randomly initialised SmolVLM weights for a given configuration (benchmarks and tests: same
// shapes and canonical names as a loaded checkpoint, no files needed).
import type { SmolVLMConfig } from './config.js';
import { mx, type MxArray } from './mlx.js';
import type { WeightMap } from './weights.js';

/** SmolVLM2-256M-Video-Instruct dimensions. */
export function smolvlm2_256mConfig(): SmolVLMConfig {
  return {
    vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, patchSize: 16, imageSize: 512, numChannels: 3, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' },
    text: { hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, vocabSize: 49280, rmsNormEps: 1e-5, ropeTheta: 100000, maxPositionEmbeddings: 8192, hiddenAct: 'silu', attentionBias: false, mlpBias: false },
    scaleFactor: 4,
    imageTokenId: 49190,
    tieWordEmbeddings: false,
    quantization: null,
  };
}

/** Shapes of every canonical tensor of a configuration. */
export function weightShapes(c: SmolVLMConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const v = c.vision, t = c.text;
  const patches = (Math.floor(v.imageSize / v.patchSize)) ** 2;
  s.set('vision.embeddings.patch_embedding.weight', [v.hiddenSize, v.numChannels * v.patchSize * v.patchSize]);
  s.set('vision.embeddings.patch_embedding.bias', [v.hiddenSize]);
  s.set('vision.embeddings.position_embedding.weight', [patches, v.hiddenSize]);
  for (let i = 0; i < v.numLayers; i++) {
    const p = `vision.encoder.layers.${i}.`;
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      s.set(`${p}self_attn.${m}.weight`, [v.hiddenSize, v.hiddenSize]);
      s.set(`${p}self_attn.${m}.bias`, [v.hiddenSize]);
    }
    s.set(`${p}mlp.fc1.weight`, [v.intermediateSize, v.hiddenSize]);
    s.set(`${p}mlp.fc1.bias`, [v.intermediateSize]);
    s.set(`${p}mlp.fc2.weight`, [v.hiddenSize, v.intermediateSize]);
    s.set(`${p}mlp.fc2.bias`, [v.hiddenSize]);
    for (const n of ['layer_norm1', 'layer_norm2']) {
      s.set(`${p}${n}.weight`, [v.hiddenSize]);
      s.set(`${p}${n}.bias`, [v.hiddenSize]);
    }
  }
  s.set('vision.post_layernorm.weight', [v.hiddenSize]);
  s.set('vision.post_layernorm.bias', [v.hiddenSize]);
  s.set('connector.modality_projection.proj.weight', [t.hiddenSize, v.hiddenSize * c.scaleFactor ** 2]);
  s.set('text.embed_tokens.weight', [t.vocabSize, t.hiddenSize]);
  for (let i = 0; i < t.numLayers; i++) {
    const p = `text.layers.${i}.`;
    s.set(`${p}self_attn.q_proj.weight`, [t.numHeads * t.headDim, t.hiddenSize]);
    s.set(`${p}self_attn.k_proj.weight`, [t.numKvHeads * t.headDim, t.hiddenSize]);
    s.set(`${p}self_attn.v_proj.weight`, [t.numKvHeads * t.headDim, t.hiddenSize]);
    s.set(`${p}self_attn.o_proj.weight`, [t.hiddenSize, t.numHeads * t.headDim]);
    s.set(`${p}mlp.gate_proj.weight`, [t.intermediateSize, t.hiddenSize]);
    s.set(`${p}mlp.up_proj.weight`, [t.intermediateSize, t.hiddenSize]);
    s.set(`${p}mlp.down_proj.weight`, [t.hiddenSize, t.intermediateSize]);
    s.set(`${p}input_layernorm.weight`, [t.hiddenSize]);
    s.set(`${p}post_attention_layernorm.weight`, [t.hiddenSize]);
  }
  s.set('text.norm.weight', [t.hiddenSize]);
  s.set('lm_head.weight', [t.vocabSize, t.hiddenSize]);
  return s;
}

/** Random float32 weights: N(0, 1/fan_in) matrices, norms around 1, small biases. */
export function randomWeights(c: SmolVLMConfig, seed = 0): WeightMap {
  mx.random.seed(seed);
  const w: WeightMap = new Map();
  for (const [name, shape] of weightShapes(c)) {
    let t: MxArray;
    if (shape.length === 1) {
      t = /norm/.test(name) && name.endsWith('weight')
        ? mx.add(1, mx.random.normal(shape, mx.float32, 0, 0.05))
        : mx.random.normal(shape, mx.float32, 0, 0.02);
    } else {
      t = mx.random.normal(shape, mx.float32, 0, 1 / Math.sqrt(shape[shape.length - 1]));
    }
    mx.eval(t);
    w.set(name, t);
  }
  return w;
}
