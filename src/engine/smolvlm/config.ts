// Reads a SmolVLM / SmolVLM2 model folder: config.json, the processor settings, the tokenizer files,
// the chat template and generation_config.json. Accepts both the layout that transformers 5 writes
// (processor_config.json holding image and video processor sections, chat_template.jinja,
// text_config.rope_parameters.rope_theta) and the one found on the Hub / in mlx-community
// conversions (preprocessor_config.json, chat_template.json, text_config.rope_theta,
// "quantization" in config.json).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  patchSize: number;
  imageSize: number;
  numChannels: number;
  layerNormEps: number;
  hiddenAct: string;
}

export interface TextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  hiddenAct: string;
  attentionBias: boolean;
  mlpBias: boolean;
}

export interface QuantizationConfig {
  groupSize: number;
  bits: number;
  /** Per-module overrides keyed by the module path as written in the checkpoint (e.g. "language_model.model.layers.0.mlp.down_proj"). */
  overrides: Record<string, { groupSize: number; bits: number } | false>;
}

export interface SmolVLMConfig {
  vision: VisionConfig;
  text: TextConfig;
  scaleFactor: number;
  imageTokenId: number;
  tieWordEmbeddings: boolean;
  quantization: QuantizationConfig | null;
}

export interface ImageProcessorConfig {
  doResize: boolean;
  /** size.longest_edge: the image is first resized so that its longest edge is this. */
  longestEdge: number;
  /** max_image_size.longest_edge: the vision encoder's tile edge. */
  maxImageSize: number;
  doImageSplitting: boolean;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  /** PIL resampling id (1 = LANCZOS); only LANCZOS is implemented, other values are treated as LANCZOS. */
  resample: number;
}

export interface VideoProcessorConfig {
  fps: number;
  maxFrames: number;
  /** Frames are resized so that the longest edge is this, then squashed to maxImageSize x maxImageSize. */
  longestEdge: number;
  maxImageSize: number;
}

export interface ProcessorConfig {
  image: ImageProcessorConfig;
  video: VideoProcessorConfig;
  imageSeqLen: number;
  chatTemplate: string;
}

export interface GenerationConfig {
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
}

export interface SpecialTokens {
  image: string;
  fakeImage: string;
  globalImage: string;
  endOfUtterance: string;
  video: string;
  bos: string | null;
  eos: string | null;
}

export interface ModelFolder {
  dir: string;
  model: SmolVLMConfig;
  processor: ProcessorConfig;
  generation: GenerationConfig;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  specialTokens: SpecialTokens;
}

/** The SmolVLM2 chat template (transformers' DEFAULT_CHAT_TEMPLATE for SmolVLM), used when a folder has none. */
export const DEFAULT_CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}" +
  "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% elif line['type'] == 'video' %}{{ '<video>' }}{% endif %}{% endfor %}" +
  "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function readJson(path: string): Json | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function bool(v: unknown, fallback: boolean): boolean {
  return typeof v === 'boolean' ? v : fallback;
}

function edge(v: unknown, fallback: number): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object') {
    const o = v as Json;
    if (typeof o.longest_edge === 'number') return o.longest_edge;
    if (typeof o.height === 'number' && typeof o.width === 'number') return Math.max(o.height, o.width);
  }
  return fallback;
}

function triple(v: unknown, fallback: [number, number, number]): [number, number, number] {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3) return [Number(v[0]), Number(v[1]), Number(v[2])];
  return fallback;
}

export function parseModelConfig(cfg: Json): SmolVLMConfig {
  const vc: Json = cfg.vision_config ?? {};
  const tc: Json = cfg.text_config ?? {};
  const vision: VisionConfig = {
    hiddenSize: num(vc.hidden_size, 1152),
    intermediateSize: num(vc.intermediate_size, 3072),
    numLayers: num(vc.num_hidden_layers, 12),
    numHeads: num(vc.num_attention_heads, 16),
    patchSize: num(vc.patch_size, 14),
    imageSize: num(vc.image_size, 224),
    numChannels: num(vc.num_channels, 3),
    layerNormEps: num(vc.layer_norm_eps, 1e-6),
    hiddenAct: typeof vc.hidden_act === 'string' ? vc.hidden_act : 'gelu_pytorch_tanh',
  };
  const hidden = num(tc.hidden_size, 4096);
  const heads = num(tc.num_attention_heads, 32);
  const ropeParams: Json = tc.rope_parameters ?? tc.rope_scaling ?? {};
  const ropeType = ropeParams.rope_type ?? ropeParams.type ?? 'default';
  if (ropeType !== 'default' && ropeType !== 'linear') {
    throw new Error(`SmolVLM: rope type "${ropeType}" is not supported`);
  }
  const text: TextConfig = {
    hiddenSize: hidden,
    intermediateSize: num(tc.intermediate_size, 11008),
    numLayers: num(tc.num_hidden_layers, 32),
    numHeads: heads,
    numKvHeads: num(tc.num_key_value_heads, heads),
    headDim: num(tc.head_dim, Math.floor(hidden / heads)),
    vocabSize: num(tc.vocab_size, num(cfg.vocab_size, 32000)),
    rmsNormEps: num(tc.rms_norm_eps, 1e-6),
    ropeTheta: num(ropeParams.rope_theta, num(tc.rope_theta, num(cfg.rope_theta, 10000))),
    maxPositionEmbeddings: num(tc.max_position_embeddings, 8192),
    hiddenAct: typeof tc.hidden_act === 'string' ? tc.hidden_act : 'silu',
    attentionBias: bool(tc.attention_bias, false),
    mlpBias: bool(tc.mlp_bias, false),
  };
  if (text.hiddenAct !== 'silu') throw new Error(`SmolVLM: text activation "${text.hiddenAct}" is not supported`);
  const q: Json | undefined = cfg.quantization ?? cfg.quantization_config;
  let quantization: QuantizationConfig | null = null;
  if (q && typeof q === 'object' && (q.bits !== undefined || q.group_size !== undefined)) {
    const overrides: QuantizationConfig['overrides'] = {};
    for (const [k, v] of Object.entries(q)) {
      if (k === 'bits' || k === 'group_size' || k === 'mode') continue;
      if (v === false) overrides[k] = false;
      else if (v && typeof v === 'object') overrides[k] = { groupSize: num((v as Json).group_size, num(q.group_size, 64)), bits: num((v as Json).bits, num(q.bits, 4)) };
    }
    quantization = { groupSize: num(q.group_size, 64), bits: num(q.bits, 4), overrides };
  }
  return {
    vision,
    text,
    scaleFactor: num(cfg.scale_factor, 2),
    imageTokenId: num(cfg.image_token_id, num(cfg.image_token_index, -1)),
    tieWordEmbeddings: bool(tc.tie_word_embeddings, bool(cfg.tie_word_embeddings, false)),
    quantization,
  };
}

export function defaultImageSeqLen(m: SmolVLMConfig): number {
  return Math.floor((Math.floor(m.vision.imageSize / m.vision.patchSize) ** 2) / (m.scaleFactor ** 2));
}

function parseChatTemplate(dir: string, processorJson: Json | null, tokenizerConfig: Json): string {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const json = readJson(join(dir, 'chat_template.json'));
  if (json && typeof json.chat_template === 'string') return json.chat_template;
  if (processorJson && typeof processorJson.chat_template === 'string') return processorJson.chat_template;
  const t = tokenizerConfig.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const def = t.find((e: Json) => e?.name === 'default') ?? t[0];
    if (def && typeof def.template === 'string') return def.template;
  }
  return DEFAULT_CHAT_TEMPLATE;
}

export function parseProcessorConfig(dir: string, model: SmolVLMConfig, tokenizerConfig: Json): ProcessorConfig {
  const processorJson = readJson(join(dir, 'processor_config.json'));
  const preJson = readJson(join(dir, 'preprocessor_config.json'));
  const videoJson = readJson(join(dir, 'video_preprocessor_config.json'));
  const ip: Json = processorJson?.image_processor ?? preJson ?? {};
  const vp: Json = processorJson?.video_processor ?? videoJson ?? {};
  const maxImageSize = edge(ip.max_image_size, model.vision.imageSize);
  const image: ImageProcessorConfig = {
    doResize: bool(ip.do_resize, true),
    longestEdge: edge(ip.size, 4 * maxImageSize),
    maxImageSize,
    doImageSplitting: bool(ip.do_image_splitting, true),
    doRescale: bool(ip.do_rescale, true),
    rescaleFactor: num(ip.rescale_factor, 1 / 255),
    doNormalize: bool(ip.do_normalize, true),
    imageMean: triple(ip.image_mean, [0.5, 0.5, 0.5]),
    imageStd: triple(ip.image_std, [0.5, 0.5, 0.5]),
    resample: num(ip.resample, 1),
  };
  const sampling: Json = vp.video_sampling ?? ip.video_sampling ?? {};
  const videoMax = edge(vp.max_image_size, maxImageSize);
  const video: VideoProcessorConfig = {
    fps: num(sampling.fps, num(vp.fps, 1)),
    maxFrames: num(sampling.max_frames, num(vp.num_frames, 64)),
    longestEdge: edge(sampling.video_size, edge(vp.size, videoMax)),
    maxImageSize: videoMax,
  };
  const imageSeqLen = num(processorJson?.image_seq_len, num(preJson?.image_seq_len, defaultImageSeqLen(model)));
  return { image, video, imageSeqLen, chatTemplate: parseChatTemplate(dir, processorJson, tokenizerConfig) };
}

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content;
  return null;
}

export function loadModelFolder(dir: string): ModelFolder {
  const cfg = readJson(join(dir, 'config.json'));
  if (!cfg) throw new Error(`${dir}: config.json not found`);
  const model = parseModelConfig(cfg);
  const tokenizerJson = readJson(join(dir, 'tokenizer.json'));
  if (!tokenizerJson) throw new Error(`${dir}: tokenizer.json not found`);
  const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json')) ?? {};
  const specialMap = readJson(join(dir, 'special_tokens_map.json')) ?? {};
  const processor = parseProcessorConfig(dir, model, tokenizerConfig);
  const gen = readJson(join(dir, 'generation_config.json')) ?? {};
  const eos = gen.eos_token_id ?? cfg.text_config?.eos_token_id ?? cfg.eos_token_id;
  const generation: GenerationConfig = {
    eosTokenIds: Array.isArray(eos) ? eos.map(Number) : typeof eos === 'number' ? [eos] : [],
    bosTokenId: typeof gen.bos_token_id === 'number' ? gen.bos_token_id : null,
    padTokenId: typeof gen.pad_token_id === 'number' ? gen.pad_token_id : null,
  };
  const pick = (key: string, fallback: string): string =>
    tokenContent(tokenizerConfig[key]) ?? tokenContent(specialMap[key]) ?? fallback;
  const specialTokens: SpecialTokens = {
    image: pick('image_token', '<image>'),
    fakeImage: pick('fake_image_token', '<fake_token_around_image>'),
    globalImage: pick('global_image_token', '<global-img>'),
    endOfUtterance: pick('end_of_utterance_token', '<end_of_utterance>'),
    video: pick('video_token', '<video>'),
    bos: tokenContent(tokenizerConfig.bos_token) ?? tokenContent(specialMap.bos_token),
    eos: tokenContent(tokenizerConfig.eos_token) ?? tokenContent(specialMap.eos_token),
  };
  return { dir, model, processor, generation, tokenizerJson, tokenizerConfig, specialTokens };
}
