// Weight loading: HF and mlx-community names, bfloat16/float16 casting, quantized tensors, and the
// alternative spellings of the config files.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModelFolder, parseModelConfig } from '../../src/engine/smolvlm/config.js';
import { maxAbsDiff, mx, toTyped, type MxArray } from '../../src/engine/smolvlm/mlx.js';
import { SmolVLMModel } from '../../src/engine/smolvlm/model.js';
import { bf16ToF32, encodeSafetensors, f32ToBf16, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../../src/engine/smolvlm/safetensors.js';
import { canonicalName, dequantize, loadWeights, prepareWeights, type WeightMap } from '../../src/engine/smolvlm/weights.js';
import { fixturesDir, tempDir } from './helpers.js';

const fixtures = fixturesDir();

function f32(a: MxArray): Float32Array {
  return toTyped(a).data as Float32Array;
}

/** float32 -> float16 bits (round to nearest even), for writing F16 test tensors. */
function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const buf = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < src.length; i++) {
    buf.setFloat32(0, src[i]);
    const x = buf.getUint32(0);
    const sign = (x >>> 16) & 0x8000;
    let exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    if (exp <= 0) {
      if (exp < -10) { out[i] = sign; continue; }
      mant |= 0x800000;
      const shift = 14 - exp;
      let m = mant >>> shift;
      const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
      if (rem > half || (rem === half && (m & 1))) m++;
      out[i] = sign | m;
      continue;
    }
    let m = mant >>> 13;
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) { m++; if (m === 0x400) { m = 0; exp++; } }
    out[i] = exp >= 31 ? sign | 0x7c00 : sign | (exp << 10) | m;
  }
  return out;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** MLX-style affine quantization (group-wise min/max), packed lowest bits first into uint32. */
function quantize(w: Float32Array, rows: number, cols: number, groupSize: number, bits: number): { packed: Uint32Array; scales: Uint16Array; biases: Uint16Array; deq: Float32Array } {
  const per = 32 / bits, levels = 2 ** bits - 1, groups = cols / groupSize;
  const packed = new Uint32Array(rows * cols / per);
  const scales = new Float32Array(rows * groups), biases = new Float32Array(rows * groups);
  const q = new Uint32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let g = 0; g < groups; g++) {
    let lo = Infinity, hi = -Infinity;
    for (let j = 0; j < groupSize; j++) { const v = w[r * cols + g * groupSize + j]; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const scale = Math.max((hi - lo) / levels, 1e-8);
    scales[r * groups + g] = scale;
    biases[r * groups + g] = lo;
  }
  // store scales/biases as bf16, quantize against the rounded values
  const sb = f32ToBf16(scales), bb = f32ToBf16(biases);
  const s2 = bf16ToF32(sb), b2 = bf16ToF32(bb);
  const deq = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const gi = r * groups + Math.floor(c / groupSize);
    const v = Math.min(levels, Math.max(0, Math.round((w[r * cols + c] - b2[gi]) / s2[gi])));
    q[r * cols + c] = v;
    deq[r * cols + c] = Math.fround(Math.fround(v * s2[gi]) + b2[gi]);
  }
  for (let i = 0; i < q.length; i++) packed[Math.floor(i / per)] |= q[i] << ((i % per) * bits);
  return { packed, scales: sb, biases: bb, deq };
}

test('canonical names: transformers and mlx-community spellings', () => {
  const cases: Array<[string, string | null]> = [
    ['model.vision_model.encoder.layers.0.mlp.fc1.weight', 'vision.encoder.layers.0.mlp.fc1.weight'],
    ['vision_model.post_layernorm.bias', 'vision.post_layernorm.bias'],
    ['model.connector.modality_projection.proj.weight', 'connector.modality_projection.proj.weight'],
    ['connector.modality_projection.proj.scales', 'connector.modality_projection.proj.scales'],
    ['model.text_model.layers.3.self_attn.q_proj.weight', 'text.layers.3.self_attn.q_proj.weight'],
    ['language_model.model.layers.3.self_attn.q_proj.weight', 'text.layers.3.self_attn.q_proj.weight'],
    ['language_model.model.embed_tokens.weight', 'text.embed_tokens.weight'],
    ['language_model.lm_head.weight', 'lm_head.weight'],
    ['lm_head.weight', 'lm_head.weight'],
    ['model.text_model.layers.0.self_attn.rotary_emb.inv_freq', null],
    ['something.else', null],
  ];
  for (const [from, to] of cases) assert.is(canonicalName(from), to, from);
});

test('safetensors writer/reader round trip (F32, BF16, U32, F16)', () => {
  const dir = tempDir();
  const a = new Float32Array([1, -2.5, 3.25, 1e-3, 7, 8]);
  const tensors: Record<string, TensorToWrite> = {
    a: { dtype: 'F32', shape: [2, 3], data: a },
    b: { dtype: 'BF16', shape: [6], data: f32ToBf16(a) },
    c: { dtype: 'U32', shape: [2], data: new Uint32Array([0xdeadbeef, 7]) },
    d: { dtype: 'F16', shape: [3, 2], data: f32ToF16(a) },
  };
  const path = join(dir, 'x.safetensors');
  writeSafetensors(path, tensors, { format: 'mlx' });
  const hdr = readSafetensorsHeader(path);
  assert.equal(Object.keys(hdr.tensors).sort(), ['a', 'b', 'c', 'd']);
  assert.equal(hdr.metadata, { format: 'mlx' });
  assert.equal(hdr.tensors.a.shape, [2, 3]);
  const loaded = mx.load(path) as Record<string, MxArray>;
  assert.equal(Array.from(f32(loaded.a)), Array.from(a));
  assert.is(maxAbsDiff(f32(loaded.b), bf16ToF32(f32ToBf16(a))), 0);
  assert.equal(Array.from(toTyped(loaded.c).data), [0xdeadbeef, 7]);
  assert.ok(maxAbsDiff(f32(loaded.d), a) < 2e-3);
  assert.throws(() => encodeSafetensors({ x: { dtype: 'F32', shape: [4], data: new Float32Array(3) } }), /bytes/);
});

test('dequantize matches MLX\'s own quantize/dequantize (packing order, 4 and 8 bits)', () => {
  mx.random.seed(3);
  for (const [bits, cols] of [[4, 256], [8, 128]] as const) {
    const w = mx.random.normal([8, cols]);
    const [wq, s, b] = mx.quantize(w, 64, bits);
    const ours = dequantize(wq, s, b, 64, bits);
    const theirs = mx.dequantize(wq, s, b, 64, bits);
    assert.is(maxAbsDiff(f32(ours), f32(theirs)), 0, `${bits} bits`);
    assert.ok(maxAbsDiff(f32(ours), f32(w)) < (bits === 4 ? 0.5 : 0.05));
  }
});

test('config: rope_theta in rope_parameters or text_config, quantization overrides', () => {
  const a = parseModelConfig({ text_config: { rope_parameters: { rope_theta: 5, rope_type: 'default' }, hidden_size: 64, num_attention_heads: 4 } });
  const b = parseModelConfig({ text_config: { rope_theta: 5, hidden_size: 64, num_attention_heads: 4 } });
  assert.is(a.text.ropeTheta, 5);
  assert.is(b.text.ropeTheta, 5);
  assert.is(a.text.headDim, 16);
  const q = parseModelConfig({ quantization: { group_size: 32, bits: 4, 'language_model.lm_head': { group_size: 64, bits: 8 }, 'vision_model.x': false } });
  assert.equal(q.quantization, { groupSize: 32, bits: 4, overrides: { 'language_model.lm_head': { groupSize: 64, bits: 8 }, 'vision_model.x': false } });
  assert.throws(() => parseModelConfig({ text_config: { rope_parameters: { rope_type: 'yarn' } } }), /not supported/);
});

if (fixtures) {
  const src = join(fixtures, 'base', 'model');
  const golden = mx.load(join(fixtures, 'base', 'golden.safetensors')) as Record<string, MxArray>;
  const original = (): { raw: Record<string, Float32Array>; shapes: Record<string, number[]> } => {
    const t = mx.load(join(src, 'model.safetensors')) as Record<string, MxArray>;
    const raw: Record<string, Float32Array> = {};
    const shapes: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(t)) { raw[k] = f32(v); shapes[k] = v.shape; }
    return { raw, shapes };
  };

  /** Logits of the fixture prompt with the golden pixel values. */
  const logitsOf = async (m: SmolVLMModel): Promise<Float32Array> => {
    const px = golden['image.pixel_values'];
    const feats = (await m.encodeImages(px.reshape(-1, px.shape[2], px.shape[3], px.shape[4]))).features;
    const ids = Array.from(toTyped(golden['image.input_ids']).data);
    return f32(m.forward(m.embedInputs(ids, feats)));
  };

  const sameWeights = (a: WeightMap, b: WeightMap, tol: number): void => {
    assert.equal([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) {
      assert.equal(v.shape, b.get(k)!.shape, k);
      const d = maxAbsDiff(f32(v), f32(b.get(k)!));
      assert.ok(d <= tol, `${k}: ${d}`);
    }
  };

  test('mlx-community layout: renamed tensors, bfloat16, MLX conv layout, Hub config spellings', async () => {
    const dir = tempDir();
    const { raw, shapes } = original();
    const ref = loadModelFolder(src);
    const expected: Record<string, MxArray> = {};
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, data] of Object.entries(raw)) {
      const bf = f32ToBf16(data);
      let shape = shapes[name];
      let bytes: Uint16Array = bf;
      expected[name] = mx.array(Array.from(bf16ToF32(bf))).reshape(shape);
      if (name.endsWith('patch_embedding.weight')) {
        // [D, C, p, p] -> [D, p, p, C]
        const [D, C, P] = shape;
        const t = new Uint16Array(bf.length);
        for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) {
          t[((d * P + y) * P + x) * C + c] = bf[((d * C + c) * P + y) * P + x];
        }
        bytes = t;
        shape = [D, P, P, C];
      }
      const renamed = name
        .replace(/^model\.vision_model\./, 'vision_model.')
        .replace(/^model\.text_model\./, 'language_model.model.')
        .replace(/^model\.connector\./, 'connector.')
        .replace(/^lm_head\./, 'language_model.lm_head.');
      tensors[renamed] = { dtype: 'BF16', shape, data: bytes };
    }
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'mlx' });
    const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    cfg.text_config.rope_theta = cfg.text_config.rope_parameters.rope_theta;
    delete cfg.text_config.rope_parameters;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const proc = JSON.parse(readFileSync(join(src, 'processor_config.json'), 'utf8'));
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ ...proc.image_processor, video_sampling: proc.video_processor.video_sampling }));
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_seq_len: proc.image_seq_len, processor_class: 'SmolVLMProcessor' }));
    writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({ chat_template: readFileSync(join(src, 'chat_template.jinja'), 'utf8') }));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(src, f), join(dir, f));

    const folder = loadModelFolder(dir);
    assert.equal(folder.model, ref.model);
    assert.equal(folder.processor, ref.processor);
    const w = loadWeights(dir, folder.model);
    sameWeights(w, prepareWeights(expected, ref.model), 0);
    const m = new SmolVLMModel(folder.model, w);
    const fromBf16 = await logitsOf(m);
    const fromRef = await logitsOf(new SmolVLMModel(ref.model, prepareWeights(expected, ref.model)));
    assert.ok(maxAbsDiff(fromBf16, fromRef) < 1e-5);
    // bfloat16 weights stay close to the float32 reference
    const d = maxAbsDiff(fromBf16, f32(golden['image.logits']));
    assert.ok(d > 0 && d < 0.1, `bf16 vs f32 logits: ${d}`);
  });

  test('quantized checkpoint (4-bit + an 8-bit override, bf16 scales, f16 rest) is dequantized at load', async () => {
    const dir = tempDir();
    const { raw, shapes } = original();
    const tensors: Record<string, TensorToWrite> = {};
    const expected: Record<string, MxArray> = {};
    let quantized = 0;
    for (const [name, data] of Object.entries(raw)) {
      const shape = shapes[name];
      const isText = name.startsWith('model.text_model.') || name === 'lm_head.weight';
      if (isText && shape.length === 2 && shape[1] % 32 === 0) {
        const base = name.slice(0, -'.weight'.length);
        const bits = base === 'model.text_model.layers.1.mlp.down_proj' ? 8 : 4;
        const q = quantize(data, shape[0], shape[1], 32, bits);
        tensors[name] = { dtype: 'U32', shape: [shape[0], (shape[1] * bits) / 32], data: q.packed };
        tensors[`${base}.scales`] = { dtype: 'BF16', shape: [shape[0], shape[1] / 32], data: q.scales };
        tensors[`${base}.biases`] = { dtype: 'BF16', shape: [shape[0], shape[1] / 32], data: q.biases };
        expected[name] = mx.array(Array.from(q.deq)).reshape(shape);
        quantized++;
      } else {
        const h = f32ToF16(data);
        tensors[name] = { dtype: 'F16', shape, data: h };
        expected[name] = mx.array(Array.from(h, f16ToF32)).reshape(shape);
      }
    }
    assert.ok(quantized >= 15, `${quantized} quantized tensors`);
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    cfg.quantization = { group_size: 32, bits: 4, 'model.text_model.layers.1.mlp.down_proj': { group_size: 32, bits: 8 } };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'processor_config.json', 'chat_template.jinja']) copyFileSync(join(src, f), join(dir, f));
    const folder = loadModelFolder(dir);
    const w = loadWeights(dir, folder.model);
    const ref = prepareWeights(expected, folder.model);
    sameWeights(w, ref, 1e-6);
    const logits = await logitsOf(new SmolVLMModel(folder.model, w));
    assert.ok(maxAbsDiff(logits, await logitsOf(new SmolVLMModel(folder.model, ref))) < 1e-5);
    assert.ok(logits.every(Number.isFinite));
    // a wrong bit width in the config must not load silently as garbage
    cfg.quantization = { group_size: 32, bits: 4 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const w2 = loadWeights(dir, loadModelFolder(dir).model);
    assert.ok(maxAbsDiff(f32(w2.get('text.layers.1.mlp.down_proj.weight')!), f32(ref.get('text.layers.1.mlp.down_proj.weight')!)) < 1e-6,
      'bit width inferred from the shapes when the config disagrees');
  });

  test('missing tensors are reported by name', () => {
    const dir = tempDir();
    const { raw, shapes } = original();
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, data] of Object.entries(raw)) {
      if (name.includes('layers.1.mlp.up_proj')) continue;
      tensors[name] = { dtype: 'F32', shape: shapes[name], data };
    }
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'processor_config.json', 'chat_template.jinja']) copyFileSync(join(src, f), join(dir, f));
    assert.throws(() => SmolVLMModel.load(dir), /text\.layers\.1\.mlp\.up_proj\.weight/);
  });
} else {
  test('fixture-based loader tests (skipped: ../shared/fixtures/smolvlm not found)', () => {});
}

test.run();
