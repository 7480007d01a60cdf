// Shared helpers of the SmolVLM tests: fixture lookup, a synthetic byte-level BPE tokenizer and a
// random model folder writer (so the worker and loader tests do not need downloaded weights).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SmolVLMConfig } from '../../src/engine/smolvlm/config.js';
import { DEFAULT_CHAT_TEMPLATE } from '../../src/engine/smolvlm/config.js';
import { toTyped } from '../../src/engine/smolvlm/mlx.js';
import { randomWeights } from '../../src/engine/smolvlm/random.js';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/smolvlm/safetensors.js';
import type { WeightMap } from '../../src/engine/smolvlm/weights.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (tests run from dist/test/smolvlm). */
export const repoRoot = resolve(here, '..', '..', '..');

/** ../shared/fixtures/smolvlm relative to the repository root, or null when absent. */
export function fixturesDir(): string | null {
  const d = resolve(repoRoot, '..', 'shared', 'fixtures', 'smolvlm');
  return existsSync(join(d, 'base', 'golden.safetensors')) ? d : null;
}

export function tempDir(prefix = 'smolvlm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** GPT-2's byte -> printable unicode mapping used by byte-level BPE. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => { out[b] = String.fromCharCode(cs[i]); });
  return out;
}

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<global-img>',
  ...Array.from({ length: 36 }, (_, i) => `<row_${Math.floor(i / 6) + 1}_col_${(i % 6) + 1}>`),
  '<fake_token_around_image>', '<image>', '<end_of_utterance>'];

/** A byte-level BPE tokenizer.json: 256 byte tokens, a few merges, SmolVLM's special tokens. */
export function syntheticTokenizer(): { json: Record<string, unknown>; vocabSize: number; ids: Record<string, number> } {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  b2u.forEach((ch, i) => { vocab[ch] = i; });
  const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  const ids: Record<string, number> = {};
  const added = SPECIAL_TOKENS.map((content) => {
    const id = Object.keys(vocab).length + Object.keys(ids).length;
    ids[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  return { json, vocabSize: Object.keys(vocab).length + added.length, ids };
}

/** Canonical weight name -> transformers 5 checkpoint name. */
export function hfName(canonical: string): string {
  if (canonical.startsWith('vision.')) return `model.vision_model.${canonical.slice(7)}`;
  if (canonical.startsWith('connector.')) return `model.connector.${canonical.slice(10)}`;
  if (canonical.startsWith('text.')) return `model.text_model.${canonical.slice(5)}`;
  return canonical;
}

export function configJson(c: SmolVLMConfig, imageTokenId: number): Record<string, unknown> {
  return {
    architectures: ['SmolVLMForConditionalGeneration'],
    model_type: 'smolvlm',
    image_token_id: imageTokenId,
    scale_factor: c.scaleFactor,
    tie_word_embeddings: false,
    vision_config: {
      hidden_size: c.vision.hiddenSize, intermediate_size: c.vision.intermediateSize, num_hidden_layers: c.vision.numLayers,
      num_attention_heads: c.vision.numHeads, patch_size: c.vision.patchSize, image_size: c.vision.imageSize,
      num_channels: 3, layer_norm_eps: c.vision.layerNormEps, hidden_act: c.vision.hiddenAct,
    },
    text_config: {
      model_type: 'llama', hidden_size: c.text.hiddenSize, intermediate_size: c.text.intermediateSize,
      num_hidden_layers: c.text.numLayers, num_attention_heads: c.text.numHeads, num_key_value_heads: c.text.numKvHeads,
      head_dim: c.text.headDim, vocab_size: c.text.vocabSize, rms_norm_eps: c.text.rmsNormEps,
      rope_parameters: { rope_theta: c.text.ropeTheta, rope_type: 'default' }, hidden_act: 'silu', tie_word_embeddings: false,
    },
  };
}

/** Writes a complete model folder with random weights; returns the config used. */
export function writeRandomModel(dir: string, dims: { vision: Partial<SmolVLMConfig['vision']>; text: Partial<SmolVLMConfig['text']>; scaleFactor?: number; maxFrames?: number }, seed = 0): SmolVLMConfig {
  mkdirSync(dir, { recursive: true });
  const tok = syntheticTokenizer();
  const config: SmolVLMConfig = {
    vision: { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, patchSize: 8, imageSize: 32, numChannels: 3, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh', ...dims.vision },
    text: { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: tok.vocabSize, rmsNormEps: 1e-5, ropeTheta: 100000, maxPositionEmbeddings: 4096, hiddenAct: 'silu', attentionBias: false, mlpBias: false, ...dims.text },
    scaleFactor: dims.scaleFactor ?? 2,
    imageTokenId: tok.ids['<image>'],
    tieWordEmbeddings: false,
    quantization: null,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson(config, tok.ids['<image>']), null, 1));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|im_start|>', eos_token: '<end_of_utterance>', pad_token: '<|im_end|>' }));
  writeFileSync(join(dir, 'chat_template.jinja'), DEFAULT_CHAT_TEMPLATE);
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: tok.ids['<end_of_utterance>'], bos_token_id: tok.ids['<|im_start|>'] }));
  const edge = config.vision.imageSize;
  writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({
    image_seq_len: ((edge / config.vision.patchSize) ** 2) / config.scaleFactor ** 2,
    image_processor: { do_image_splitting: false, max_image_size: { longest_edge: edge }, size: { longest_edge: 4 * edge }, resample: 1 },
    video_processor: { video_sampling: { fps: 1, max_frames: dims.maxFrames ?? 16, video_size: { longest_edge: edge } }, max_image_size: { longest_edge: edge } },
  }));
  writeWeights(join(dir, 'model.safetensors'), randomWeights(config, seed), config, hfName);
  return config;
}

/** Writes canonical weights as float32 safetensors under the given naming. */
export function writeWeights(path: string, w: WeightMap, c: SmolVLMConfig, name: (canonical: string) => string): void {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [k, v] of w) {
    let shape = v.shape;
    if (k === 'vision.embeddings.patch_embedding.weight') shape = [shape[0], 3, c.vision.patchSize, c.vision.patchSize];
    tensors[name(k)] = { dtype: 'F32', shape, data: toTyped(v).data };
  }
  writeSafetensors(path, tensors);
}

/** A deterministic RGB test picture. */
export function picture(w: number, h: number, k = 0): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    data[i] = Math.floor((x * 255) / Math.max(1, w - 1));
    data[i + 1] = Math.floor((y * 255) / Math.max(1, h - 1));
    data[i + 2] = ((Math.floor(x / 7) + Math.floor(y / 5) + k) % 2) * 200 + 20;
  }
  return { data, width: w, height: h };
}
