// SmolVLM2 cost per video segment at the real SmolVLM2-256M dimensions (randomly initialised, so
// no checkpoint is needed), next to the FLOP bound from measured matmul GFLOP/s and a memory
// bound for decoding.
//
//   node dist/bench/smolvlm.js [--frames 8] [--tokens 32] [--width 1280] [--height 720] [--json]
//
// benchSmolVLM() is exported for a benchmark suite.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SmolVLMConfig } from '../src/engine/smolvlm/config.js';
import { generate } from '../src/engine/smolvlm/generate.js';
import { resizeVideoFrame, toPixelValues, type RgbImage } from '../src/engine/smolvlm/image.js';
import { attention, fromTyped, linear, mx, type MxArray } from '../src/engine/smolvlm/mlx.js';
import { SmolVLMModel } from '../src/engine/smolvlm/model.js';
import { randomWeights, smolvlm2_256mConfig, weightShapes } from '../src/engine/smolvlm/random.js';
import { swiglu } from '../src/engine/smolvlm/text.js';
import { gelu } from '../src/engine/smolvlm/vision.js';

export interface SmolVLMBenchOptions {
  /** Frames per segment (default 8). */
  frames?: number;
  /** Generated tokens per segment (default 32). */
  decodeTokens?: number;
  /** Source frame size before preprocessing (default 1280x720). */
  frameWidth?: number;
  frameHeight?: number;
  /** Segments to run, keeping the fastest of each stage (default 1). */
  runs?: number;
  /** Text tokens around the frames (system prompt, intro, question; default 80). */
  textTokens?: number;
  config?: SmolVLMConfig;
  seed?: number;
  log?: (line: string) => void;
}

export interface MatmulRate {
  m: number; k: number; n: number;
  gflops: number;
}

/** Time of one kind of operation over a whole stage, next to its bound. */
export interface Part {
  name: string;
  ms: number;
  /** FLOPs at the peak matmul rate (matmuls, attention) or bytes moved at the measured bandwidth (the rest). */
  boundMs: number;
  bound: 'FLOP' | 'memory' | null;
}

export interface SmolVLMBenchResult {
  machine: { cpus: number; model: string; openblasThreads: string | null };
  params: { vision: number; connector: number; text: number; total: number };
  matmul: MatmulRate[];
  /** Best measured matmul rate (GFLOP/s): the compute roof. */
  peakGflops: number;
  /** Weight streaming rate of a large float32 matrix-vector product (GB/s). */
  memoryGBps: number;
  segment: {
    frames: number;
    imageSize: number;
    tokensPerFrame: number;
    promptTokens: number;
    decodeTokens: number;
    preprocessMs: number;
    visionMs: number;
    visionMsPerFrame: number;
    prefillMs: number;
    decodeMs: number;
    decodeTokensPerSecond: number;
    /** preprocess + vision + prefill + decode of decodeTokens tokens. */
    totalMs: number;
  };
  flops: { visionPerFrame: number; prefill: number; decodePerToken: number };
  /** Resident memory (bytes): before the segment (model loaded) and the peak during it. */
  memory: { beforeSegment: number; peakSegment: number; weights: number };
  /**
   * Each stage's operations timed one kind at a time at the stage's shapes (all layers); `rest`
   * is the measured stage time minus their sum (residual adds, reshapes and transposes that
   * copy, position embeddings, evaluation and memory reclaiming between layers).
   */
  breakdown: { vision: Part[]; prefill: Part[] };
  bounds: {
    /** FLOPs / peak matmul rate. */
    visionMsPerFrame: number;
    prefillMs: number;
    decodeTokensPerSecondFlop: number;
    /** Weights read once per token / measured bandwidth (float32 weights). */
    decodeTokensPerSecondMemory: number;
    segmentMs: number;
  };
}

function timeIt(fn: () => void, minMs = 400, maxReps = 50): number {
  fn(); // warm-up
  const t0 = performance.now();
  let reps = 0;
  do { fn(); reps++; } while (performance.now() - t0 < minMs && reps < maxReps);
  return (performance.now() - t0) / reps;
}

function matmulRate(m: number, k: number, n: number): MatmulRate {
  const a = mx.random.normal([m, k]);
  const b = mx.random.normal([n, k]);
  mx.eval(a, b);
  // same form as the model's linear layers: x @ W^T
  const ms = timeIt(() => mx.eval(mx.matmul(a, b.T)));
  return { m, k, n, gflops: (2 * m * k * n) / (ms * 1e6) };
}

/** Weight streaming rate of a matrix-vector product over a 256 MiB float32 matrix (GB/s): the decode roof. */
function memoryBandwidth(): number {
  const rows = 32768, cols = 2048;
  const w = mx.random.normal([rows, cols]);
  const x = mx.random.normal([1, cols]);
  mx.eval(w, x);
  const ms = timeIt(() => mx.eval(mx.matmul(x, w.T)));
  return (4 * rows * cols) / (ms * 1e6);
}

/** FLOPs of the vision encoder + connector for one image. */
export function visionFlops(c: SmolVLMConfig): number {
  const v = c.vision;
  const T = (v.imageSize / v.patchSize) ** 2;
  const D = v.hiddenSize;
  const patch = 2 * T * 3 * v.patchSize ** 2 * D;
  const layer = 2 * T * D * D * 4 + 4 * T * T * D + 2 * T * D * v.intermediateSize * 2;
  const connector = 2 * (T / c.scaleFactor ** 2) * D * c.scaleFactor ** 2 * c.text.hiddenSize;
  return patch + v.numLayers * layer + connector;
}

/** FLOPs of the decoder for `n` new tokens after `past` cached ones (full attention rows, as computed), lm head on the last only. */
export function textFlops(c: SmolVLMConfig, n: number, past: number): number {
  const t = c.text;
  const H = t.hiddenSize, q = t.numHeads * t.headDim, kv = t.numKvHeads * t.headDim;
  const proj = 2 * n * H * (q + 2 * kv) + 2 * n * q * H;
  const attn = 4 * n * (past + n) * q;
  const mlp = 6 * n * H * t.intermediateSize;
  return t.numLayers * (proj + attn + mlp) + 2 * H * t.vocabSize;
}

/** Peak resident memory since the last reset (VmHWM) and the current one, in bytes. */
function residentMemory(): { rss: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs). */
function resetPeakMemory(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

const rnd = (...shape: number[]): MxArray => {
  const a = mx.multiply(mx.random.normal(shape), 0.02);
  mx.eval(a);
  return a;
};

/** ms of the fastest of a few evaluations of `op` (inputs already evaluated): robust to a busy machine. */
function opMs(op: () => MxArray): number {
  mx.eval(op()); // warm-up
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    mx.eval(op());
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** The vision encoder + connector of one frame, by kind of operation. */
function visionParts(c: SmolVLMConfig, measuredMs: number, gflops: number, gbps: number): Part[] {
  const v = c.vision;
  const T = (v.imageSize / v.patchSize) ** 2, D = v.hiddenSize, I = v.intermediateSize, heads = v.numHeads, hd = D / heads;
  const flopMs = (f: number) => f / (gflops * 1e6);
  const byteMs = (b: number) => b / (gbps * 1e6);
  const x = rnd(1, T, D), wD = rnd(D, D), bD = rnd(D), wI = rnd(I, D), bI = rnd(I), wO = rnd(D, I), h1 = rnd(1, T, I);
  const patchIn = 3 * v.patchSize ** 2, px = rnd(1, T, patchIn), wP = rnd(D, patchIn);
  const sf2 = c.scaleFactor ** 2, shuffled = rnd(1, T / sf2, D * sf2), wC = rnd(c.text.hiddenSize, D * sf2);
  const q = rnd(1, heads, T, hd), k = rnd(1, heads, T, hd), vv = rnd(1, heads, T, hd);
  const lnW = rnd(D), lnB = rnd(D);
  const L = v.numLayers;
  const matmul =
    L * (4 * opMs(() => linear(x, wD, bD)) + opMs(() => linear(x, wI, bI)) + opMs(() => linear(h1, wO, bD))) +
    opMs(() => linear(px, wP)) + opMs(() => linear(shuffled, wC));
  const matmulFlops = L * (2 * T * D * D * 4 + 2 * T * D * I * 2) + 2 * T * patchIn * D + 2 * (T / sf2) * D * sf2 * c.text.hiddenSize;
  const parts: Part[] = [
    { name: 'matmuls (linear layers, patch embedding, connector)', ms: matmul, boundMs: flopMs(matmulFlops), bound: 'FLOP' },
    { name: 'attention (scores, softmax, weighted sum)', ms: L * opMs(() => attention(q, k, vv, 1 / Math.sqrt(hd))), boundMs: flopMs(L * 4 * T * T * D), bound: 'FLOP' },
    { name: 'GELU', ms: L * opMs(() => gelu(h1, v.hiddenAct)), boundMs: byteMs(L * 2 * 4 * T * I), bound: 'memory' },
    { name: 'layer norms', ms: (2 * L + 1) * opMs(() => mx.fast.layerNorm(x, lnW, lnB, v.layerNormEps)), boundMs: byteMs((2 * L + 1) * 2 * 4 * T * D), bound: 'memory' },
  ];
  return [...parts, { name: 'rest', ms: measuredMs - parts.reduce((a, p) => a + p.ms, 0), boundMs: 0, bound: null }];
}

/** The decoder over the prompt (prefill), by kind of operation. */
function prefillParts(c: SmolVLMConfig, n: number, measuredMs: number, gflops: number, gbps: number): Part[] {
  const t = c.text;
  const H = t.hiddenSize, I = t.intermediateSize, qd = t.numHeads * t.headDim, kvd = t.numKvHeads * t.headDim;
  const capacity = Math.ceil(n / 256) * 256; // the KV cache grows in steps of 256 (text.ts)
  const flopMs = (f: number) => f / (gflops * 1e6);
  const byteMs = (b: number) => b / (gbps * 1e6);
  const x = rnd(1, n, H), wq = rnd(qd, H), wkv = rnd(kvd, H), wo = rnd(H, qd), wi = rnd(I, H), wd = rnd(H, I), a = rnd(1, n, qd), g = rnd(1, n, I), u = rnd(1, n, I);
  const last = rnd(1, 1, H), head = rnd(t.vocabSize, H);
  const q = rnd(1, t.numHeads, n, t.headDim), K = rnd(1, t.numKvHeads, capacity, t.headDim), V = rnd(1, t.numKvHeads, capacity, t.headDim);
  const rows = mx.expandDims(mx.arange(0, n, 1, mx.int32), 1);
  const cols = mx.expandDims(mx.arange(0, capacity, 1, mx.int32), 0);
  const mask = mx.where(mx.greater(cols, rows), mx.array(-Infinity, mx.float32), mx.array(0, mx.float32));
  mx.eval(mask);
  const normW = rnd(H);
  const L = t.numLayers;
  const matmul = L * (opMs(() => linear(x, wq)) + 2 * opMs(() => linear(x, wkv)) + opMs(() => linear(a, wo)) + 2 * opMs(() => linear(x, wi)) + opMs(() => linear(g, wd))) + opMs(() => linear(last, head));
  const matmulFlops = L * (2 * n * H * (qd + 2 * kvd) + 2 * n * qd * H + 6 * n * H * I) + 2 * H * t.vocabSize;
  const parts: Part[] = [
    { name: 'matmuls (projections, MLP, lm head)', ms: matmul, boundMs: flopMs(matmulFlops), bound: 'FLOP' },
    { name: 'attention (causal, grouped heads)', ms: L * opMs(() => attention(q, K, V, 1 / Math.sqrt(t.headDim), mask)), boundMs: flopMs(L * 4 * n * n * qd), bound: 'FLOP' },
    { name: 'SwiGLU and RoPE', ms: L * (opMs(() => swiglu(g, u)) + opMs(() => mx.fast.rope(q, t.headDim, false, t.ropeTheta, 1, 0)) + opMs(() => mx.fast.rope(K.index(mx.Slice(), mx.Slice(), mx.Slice(0, n)), t.headDim, false, t.ropeTheta, 1, 0))), boundMs: byteMs(L * 4 * (3 * n * I + 2 * n * (qd + kvd))), bound: 'memory' },
    { name: 'RMS norms', ms: (2 * L + 1) * opMs(() => mx.fast.rmsNorm(x, normW, t.rmsNormEps)), boundMs: byteMs((2 * L + 1) * 2 * 4 * n * H), bound: 'memory' },
  ];
  return [...parts, { name: 'rest', ms: measuredMs - parts.reduce((s2, p) => s2 + p.ms, 0), boundMs: 0, bound: null }];
}

function syntheticFrame(w: number, h: number, k: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    data[i] = (x + k * 7) & 255;
    data[i + 1] = (y * 3) & 255;
    data[i + 2] = ((x >> 4) + (y >> 4) + k) & 1 ? 220 : 30;
  }
  return { data, width: w, height: h };
}

export async function benchSmolVLM(opts: SmolVLMBenchOptions = {}): Promise<SmolVLMBenchResult> {
  const log = opts.log ?? (() => {});
  const config = opts.config ?? smolvlm2_256mConfig();
  const nFrames = opts.frames ?? 8;
  const nDecode = opts.decodeTokens ?? 32;
  const fw = opts.frameWidth ?? 1280, fh = opts.frameHeight ?? 720;
  const textTokens = opts.textTokens ?? 80;

  const shapes = weightShapes(config);
  const count = (prefix: string): number => [...shapes].filter(([k]) => k.startsWith(prefix)).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
  const params = { vision: count('vision.'), connector: count('connector.'), text: count('text.') + count('lm_head.'), total: 0 };
  params.total = params.vision + params.connector + params.text;

  log('measuring matmul rates and memory bandwidth...');
  const T = (config.vision.imageSize / config.vision.patchSize) ** 2;
  const matmul = [
    matmulRate(1024, 1024, 1024),
    matmulRate(T, config.vision.hiddenSize, config.vision.intermediateSize),
    matmulRate(T, config.vision.hiddenSize, config.vision.hiddenSize),
    matmulRate(640, config.text.hiddenSize, config.text.intermediateSize),
    matmulRate(1, config.text.hiddenSize, config.text.intermediateSize),
    matmulRate(1, config.text.hiddenSize, config.text.vocabSize),
  ];
  const peakGflops = Math.max(...matmul.map((m) => m.gflops));
  const memoryGBps = memoryBandwidth();

  log(`initialising ${(params.total / 1e6).toFixed(0)}M random parameters...`);
  const model = new SmolVLMModel(config, randomWeights(config, opts.seed ?? 0));

  // --- preprocessing: resize each frame (longest edge, then the encoder square) and normalise
  const tile = config.vision.imageSize;
  const video = { fps: 1, maxFrames: 64, longestEdge: tile, maxImageSize: tile };
  const norm = { doRescale: true, rescaleFactor: 1 / 255, doNormalize: true, imageMean: [0.5, 0.5, 0.5] as [number, number, number], imageStd: [0.5, 0.5, 0.5] as [number, number, number] };
  const sources = Array.from({ length: nFrames }, (_, k) => syntheticFrame(fw, fh, k));

  // prompt layout of a video segment: text, then per frame a timestamp + fake/global tokens + image tokens
  const perFrame = (T / config.scaleFactor ** 2);
  const imageId = config.imageTokenId;
  const ids: number[] = [];
  const filler = (n: number): void => { for (let i = 0; i < n; i++) ids.push(100 + ((i * 7919) % 40000)); };
  filler(Math.floor(textTokens / 2));
  for (let f = 0; f < nFrames; f++) {
    filler(8);
    for (let i = 0; i < perFrame; i++) ids.push(imageId);
    filler(1);
  }
  filler(textTokens - Math.floor(textTokens / 2));

  const runSegment = async (frames: RgbImage[], tokens: number): Promise<{ pre: number; vision: number; prefill: number; decode: number; generated: number }> => {
    const t0 = performance.now();
    const px = toPixelValues(frames.map((f) => resizeVideoFrame(f, video)), norm);
    const pixels = fromTyped(px.data, [frames.length, 3, tile, tile]);
    const t1 = performance.now();
    const feats = (await model.encodeImages(pixels)).features;
    const t2 = performance.now();
    const embeds = model.embedInputs(ids, feats);
    const gen = await generate(model, embeds, { maxTokens: tokens, stopTokenIds: [] });
    return { pre: t1 - t0, vision: t2 - t1, prefill: gen.prefillMs, decode: gen.decodeMs, generated: gen.tokens.length };
  };

  log('warm-up...');
  // warm-up on one frame with a matching short prompt
  {
    const warmIds: number[] = [1, 2, 3, ...new Array<number>(perFrame).fill(imageId), 4];
    const px = toPixelValues([resizeVideoFrame(sources[0], video)], norm);
    const feats = (await model.encodeImages(fromTyped(px.data, [1, 3, tile, tile]))).features;
    await generate(model, model.embedInputs(warmIds, feats), { maxTokens: 3 });
  }

  log(`segment: ${nFrames} frames ${fw}x${fh} -> ${tile}x${tile}, ${ids.length} prompt tokens, ${nDecode} new tokens...`);
  const before = residentMemory().rss;
  resetPeakMemory();
  const r = await runSegment(sources, nDecode);
  const peak = residentMemory().peak;
  // more runs: the fastest of each stage (the machine may be shared)
  for (let i = 1; i < (opts.runs ?? 1); i++) {
    const again = await runSegment(sources, nDecode);
    r.pre = Math.min(r.pre, again.pre);
    r.vision = Math.min(r.vision, again.vision);
    r.prefill = Math.min(r.prefill, again.prefill);
    r.decode = Math.min(r.decode, again.decode);
  }
  const decodeTps = r.generated > 1 ? (r.generated - 1) / (r.decode / 1000) : 0;

  const flops = {
    visionPerFrame: visionFlops(config),
    prefill: textFlops(config, ids.length, 0),
    decodePerToken: textFlops(config, 1, ids.length + nDecode / 2),
  };
  const textBytesPerToken = 4 * (params.text - config.text.vocabSize * config.text.hiddenSize) // embedding rows are gathered, not streamed
    + 4 * config.text.vocabSize * config.text.hiddenSize; // lm head
  const bounds = {
    visionMsPerFrame: flops.visionPerFrame / (peakGflops * 1e6),
    prefillMs: flops.prefill / (peakGflops * 1e6),
    decodeTokensPerSecondFlop: (peakGflops * 1e9) / flops.decodePerToken,
    decodeTokensPerSecondMemory: (memoryGBps * 1e9) / textBytesPerToken,
    segmentMs: 0,
  };
  const decodeBoundTps = Math.min(bounds.decodeTokensPerSecondFlop, bounds.decodeTokensPerSecondMemory);
  bounds.segmentMs = nFrames * bounds.visionMsPerFrame + bounds.prefillMs + (nDecode - 1) * (1000 / decodeBoundTps);

  log('timing the operations one kind at a time...');
  const breakdown = {
    vision: visionParts(config, r.vision / nFrames, peakGflops, memoryGBps),
    prefill: prefillParts(config, ids.length, r.prefill, peakGflops, memoryGBps),
  };

  return {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', openblasThreads: process.env.OPENBLAS_NUM_THREADS ?? null },
    params,
    matmul,
    peakGflops,
    memoryGBps,
    segment: {
      frames: nFrames,
      imageSize: tile,
      tokensPerFrame: perFrame,
      promptTokens: ids.length,
      decodeTokens: r.generated,
      preprocessMs: r.pre,
      visionMs: r.vision,
      visionMsPerFrame: r.vision / nFrames,
      prefillMs: r.prefill,
      decodeMs: r.decode,
      decodeTokensPerSecond: decodeTps,
      totalMs: r.pre + r.vision + r.prefill + r.decode,
    },
    flops,
    bounds,
    memory: { beforeSegment: before, peakSegment: peak, weights: 4 * params.total },
    breakdown,
  };
}

export function formatBench(r: SmolVLMBenchResult): string {
  const s = r.segment, b = r.bounds;
  const f = (x: number, d = 0): string => x.toFixed(d);
  const lines = [
    `SmolVLM2-256M dims (random weights), ${r.machine.cpus} CPUs (${r.machine.model})`,
    `params: vision ${f(r.params.vision / 1e6, 1)}M, connector ${f(r.params.connector / 1e6, 1)}M, text ${f(r.params.text / 1e6, 1)}M`,
    `matmul GFLOP/s: ${r.matmul.map((m) => `${m.m}x${m.k}x${m.n} ${f(m.gflops, 1)}`).join(', ')}; peak ${f(r.peakGflops, 1)}`,
    `weight streaming (GEMV over 256 MiB): ${f(r.memoryGBps, 1)} GB/s`,
    `segment of ${s.frames} frames (${s.imageSize}px, ${s.tokensPerFrame} tokens/frame, ${s.promptTokens} prompt tokens, ${s.decodeTokens} generated):`,
    `  preprocess  ${f(s.preprocessMs).padStart(7)} ms`,
    `  vision      ${f(s.visionMs).padStart(7)} ms  (${f(s.visionMsPerFrame)} ms/frame; FLOP bound ${f(b.visionMsPerFrame)} ms/frame = ${f(r.flops.visionPerFrame / 1e9, 1)} GFLOP at peak)`,
    `  prefill     ${f(s.prefillMs).padStart(7)} ms  (FLOP bound ${f(b.prefillMs)} ms = ${f(r.flops.prefill / 1e9, 1)} GFLOP)`,
    `  decode      ${f(s.decodeMs).padStart(7)} ms  (${f(s.decodeTokensPerSecond, 1)} tok/s; bounds: FLOP ${f(b.decodeTokensPerSecondFlop)} tok/s, memory ${f(b.decodeTokensPerSecondMemory, 1)} tok/s)`,
    `  total       ${f(s.totalMs).padStart(7)} ms  (bound ${f(b.segmentMs)} ms)`,
    `memory: ${f(r.memory.beforeSegment / 2 ** 20)} MiB resident before the segment (f32 weights ${f(r.memory.weights / 2 ** 20)} MiB), peak ${f(r.memory.peakSegment / 2 ** 20)} MiB during it`,
    ...(['vision', 'prefill'] as const).flatMap((stage) => {
      const parts = r.breakdown[stage];
      const total = parts.reduce((a, p) => a + p.ms, 0);
      return [`${stage}${stage === 'vision' ? ' (per frame)' : ''}:`, ...parts.map((p) => `  ${p.name.padEnd(52)} ${f(p.ms).padStart(6)} ms ${f((100 * p.ms) / total).padStart(3)}%${p.bound ? `  (${p.bound} bound ${f(p.boundMs, 1)} ms)` : ''}`)];
    }),
  ];
  return lines.join('\n');
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const json = process.argv.includes('--json');
  const r = await benchSmolVLM({
    frames: arg('frames', 8), decodeTokens: arg('tokens', 32), frameWidth: arg('width', 1280), frameHeight: arg('height', 720),
    log: json ? undefined : (l) => console.error(l),
  });
  console.log(json ? JSON.stringify(r, null, 1) : formatBench(r));
}

