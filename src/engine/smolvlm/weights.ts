// Loads checkpoint tensors into canonical names, float32:
//   vision.*     <- model.vision_model.* (HF) | vision_model.* (mlx-community)
//   connector.*  <- model.connector.*        | connector.*
//   text.*       <- model.text_model.*       | language_model.model.* | language_model.*
//   lm_head.*    <- lm_head.*                | language_model.lm_head.*
// bfloat16 / float16 tensors are cast to float32 (MLX's CPU matmul is float32 only), affine
// quantized tensors (uint32 "weight" + "scales" + "biases", as mlx-community writes them) are
// dequantized, and the patch embedding is stored as a [hidden, C*p*p] matrix whatever the layout.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QuantizationConfig, SmolVLMConfig } from './config.js';
import { mx, type MxArray } from './mlx.js';
import { readSafetensorsHeader } from './safetensors.js';

export type WeightMap = Map<string, MxArray>;

/** Maps a checkpoint tensor name to its canonical name, or null for tensors the model does not use. */
export function canonicalName(name: string): string | null {
  if (/rotary_emb\.inv_freq$/.test(name)) return null;
  const rules: Array<[RegExp, string]> = [
    [/^model\.vision_model\./, 'vision.'],
    [/^model\.connector\./, 'connector.'],
    [/^model\.text_model\./, 'text.'],
    [/^model\.lm_head\./, 'lm_head.'],
    [/^lm_head\./, 'lm_head.'],
    [/^vision_model\./, 'vision.'],
    [/^connector\./, 'connector.'],
    [/^language_model\.model\./, 'text.'],
    [/^language_model\.lm_head\./, 'lm_head.'],
    [/^language_model\./, 'text.'],
    [/^text_model\./, 'text.'],
  ];
  for (const [re, rep] of rules) if (re.test(name)) return name.replace(re, rep);
  return null;
}

/** The safetensors files of a model folder (a sharded index, model.safetensors, or every *.safetensors). */
export function weightFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>;
    return [...new Set(Object.values(map))].sort().map((f) => join(dir, f));
  }
  if (existsSync(join(dir, 'model.safetensors'))) return [join(dir, 'model.safetensors')];
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors') && !f.startsWith('golden')).sort();
  if (files.length === 0) throw new Error(`${dir}: no .safetensors weights found`);
  return files.map((f) => join(dir, f));
}

/**
 * Unpacks MLX affine-quantized weights: each uint32 holds 32/bits values, lowest bits first;
 * value = scale * q + bias per group of groupSize consecutive input features.
 */
export function dequantize(wq: MxArray, scales: MxArray, biases: MxArray, groupSize: number, bits: number): MxArray {
  if (32 % bits !== 0) throw new Error(`dequantize: ${bits}-bit weights are not supported`);
  const per = 32 / bits;
  const [out, packed] = wq.shape;
  const inFeatures = packed * per;
  if (inFeatures % groupSize !== 0 || scales.shape[scales.ndim - 1] * groupSize !== inFeatures) {
    throw new Error(`dequantize: ${JSON.stringify(wq.shape)} with scales ${JSON.stringify(scales.shape)} does not fit ${bits} bits / group ${groupSize}`);
  }
  // (w >> (i * bits)) & mask, written with division and remainder: the bindings' rightShift does
  // not broadcast. Powers of two up to 2^28 are exact in the float path that creates the arrays.
  const divisors = mx.array(Array.from({ length: per }, (_, i) => 2 ** (i * bits)), mx.uint32);
  const w32 = wq.dtype === mx.uint32 ? wq : wq.astype(mx.uint32);
  const shifted = mx.floorDivide(mx.expandDims(w32, -1), divisors);
  const q = mx.remainder(shifted, mx.array(2 ** bits, mx.uint32)).astype(mx.float32);
  const grouped = q.reshape(out, inFeatures / groupSize, groupSize);
  const s = mx.expandDims(scales.astype(mx.float32), -1);
  const b = mx.expandDims(biases.astype(mx.float32), -1);
  return mx.add(mx.multiply(grouped, s), b).reshape(out, inFeatures);
}

function quantParams(q: QuantizationConfig | null, module: string, wq: MxArray, scales: MxArray): { groupSize: number; bits: number } {
  const o = q?.overrides[module];
  if (o) return o;
  const packed = wq.shape[wq.ndim - 1];
  const groups = scales.shape[scales.ndim - 1];
  if (q) {
    // Trust the config when it is consistent with the shapes, else infer the bit width.
    if (groups * q.groupSize === (packed * 32) / q.bits) return { groupSize: q.groupSize, bits: q.bits };
    const bits = (packed * 32) / (groups * q.groupSize);
    if (Number.isInteger(bits)) return { groupSize: q.groupSize, bits };
  }
  for (const groupSize of [64, 32, 128]) {
    const bits = (packed * 32) / (groups * groupSize);
    if ([2, 4, 8].includes(bits)) return { groupSize, bits };
  }
  throw new Error(`${module}: cannot infer the quantization of ${JSON.stringify(wq.shape)}`);
}

/** Converts raw checkpoint tensors (any naming, dtype, quantization) to canonical float32 weights. */
export function prepareWeights(raw: Record<string, MxArray>, config: SmolVLMConfig): WeightMap {
  const out: WeightMap = new Map();
  const names = Object.keys(raw);
  const nameSet = new Set(names);
  for (const name of names) {
    if (name.endsWith('.scales') || name.endsWith('.biases')) {
      const base = name.slice(0, name.lastIndexOf('.'));
      if (nameSet.has(`${base}.weight`)) continue; // consumed with the weight
    }
    const canon = canonicalName(name);
    if (canon === null) continue;
    let t = raw[name];
    if (name.endsWith('.weight')) {
      const base = name.slice(0, -'.weight'.length);
      const scales = raw[`${base}.scales`];
      if (scales) {
        const biases = raw[`${base}.biases`];
        if (!biases) throw new Error(`${base}: quantized weight without biases`);
        const { groupSize, bits } = quantParams(config.quantization, base, t, scales);
        t = dequantize(t, scales, biases, groupSize, bits);
      }
    }
    if (t.dtype !== mx.float32) t = t.astype(mx.float32);
    out.set(canon, t);
  }
  // Patch embedding: HF conv layout [D, C, p, p] or MLX [D, p, p, C] -> [D, C*p*p] in (C, p, p) order.
  const pe = out.get('vision.embeddings.patch_embedding.weight');
  if (pe && pe.ndim === 4) {
    const C = config.vision.numChannels;
    const hfLayout = pe.shape[1] === C && !(pe.shape[3] === C && pe.shape[1] !== C);
    const w = hfLayout ? pe : pe.transpose(0, 3, 1, 2);
    out.set('vision.embeddings.patch_embedding.weight', w.reshape(w.shape[0], -1));
  }
  if (!out.has('lm_head.weight')) {
    const emb = out.get('text.embed_tokens.weight');
    if (emb) out.set('lm_head.weight', emb);
  }
  return out;
}

/** Canonical tensor names the model needs, for validation. */
export function requiredWeights(config: SmolVLMConfig): string[] {
  const names = [
    'vision.embeddings.patch_embedding.weight', 'vision.embeddings.patch_embedding.bias',
    'vision.embeddings.position_embedding.weight', 'vision.post_layernorm.weight', 'vision.post_layernorm.bias',
    'connector.modality_projection.proj.weight', 'text.embed_tokens.weight', 'text.norm.weight', 'lm_head.weight',
  ];
  for (let i = 0; i < config.vision.numLayers; i++) {
    const p = `vision.encoder.layers.${i}.`;
    for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.out_proj', 'mlp.fc1', 'mlp.fc2', 'layer_norm1', 'layer_norm2']) {
      names.push(`${p}${m}.weight`, `${p}${m}.bias`);
    }
  }
  for (let i = 0; i < config.text.numLayers; i++) {
    const p = `text.layers.${i}.`;
    for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj', 'input_layernorm', 'post_attention_layernorm']) {
      names.push(`${p}${m}.weight`);
    }
  }
  return names;
}

export function checkWeights(w: WeightMap, config: SmolVLMConfig): void {
  const missing = requiredWeights(config).filter((n) => !w.has(n));
  if (missing.length) {
    throw new Error(`SmolVLM weights: ${missing.length} tensors missing, e.g. ${missing.slice(0, 5).join(', ')}`);
  }
}

/** Loads, remaps, dequantizes and casts every tensor of a model folder; evaluates them so files can go. */
export function loadWeights(dir: string, config: SmolVLMConfig): WeightMap {
  const raw: Record<string, MxArray> = {};
  for (const file of weightFiles(dir)) {
    readSafetensorsHeader(file); // validates the file before handing it to the native loader
    const tensors = mx.load(file) as unknown as Record<string, MxArray>;
    Object.assign(raw, tensors);
  }
  const w = prepareWeights(raw, config);
  checkWeights(w, config);
  const all = [...new Set(w.values())];
  for (let i = 0; i < all.length; i += 64) mx.eval(...all.slice(i, i + 64));
  return w;
}
