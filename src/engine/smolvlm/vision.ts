// SigLIP-style vision encoder of SmolVLM: patch embedding (a stride-p convolution, done as a
// matmul over flattened patches), learned position embeddings indexed by bucketed fractional patch
// coordinates (so images smaller than the encoder size, or padded, map onto the full grid the way
// transformers' SmolVLMVisionEmbeddings does it), pre-norm transformer layers with bidirectional
// attention and a GELU MLP, and a final LayerNorm.
import type { VisionConfig } from './config.js';
import { attention, compiledOr, linear, mx, reclaim, type MxArray } from './mlx.js';
import type { WeightMap } from './weights.js';

const F32_MIN = -3.4028234663852886e38;

/**
 * Position ids of the nbH x nbW valid patches of an image on an n x n grid, as transformers
 * computes them: fractional coordinates arange(0, 1 - 1e-6, 1/nb) bucketized (right=True) against
 * boundaries arange(1/n, 1, 1/n), in float32.
 */
export function patchPositionIds(nbH: number, nbW: number, n: number): Int32Array {
  const f = Math.fround;
  const boundaries: number[] = [];
  for (let i = 0; ; i++) {
    const v = 1 / n + i * (1 / n);
    if (!(v < 1)) break;
    boundaries.push(f(v));
  }
  const coords = (nb: number): number[] => {
    const out: number[] = [];
    const step = 1 / nb;
    const count = Math.max(0, Math.ceil((1 - 1e-6) / step));
    for (let i = 0; i < count; i++) out.push(f(i * step));
    return out;
  };
  const bucket = (x: number): number => {
    let k = 0;
    while (k < boundaries.length && boundaries[k] <= x) k++;
    return k;
  };
  const bh = coords(nbH).map(bucket);
  const bw = coords(nbW).map(bucket);
  const ids = new Int32Array(bh.length * bw.length);
  for (let i = 0; i < bh.length; i++) for (let j = 0; j < bw.length; j++) ids[i * bw.length + j] = bh[i] * n + bw[j];
  return ids;
}

function geluTanh(x: MxArray): MxArray {
  // 0.5 x (1 + tanh(u)) == x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): fewer passes than the tanh form
  const c = 2 * Math.sqrt(2 / Math.PI);
  return mx.multiply(x, mx.sigmoid(mx.multiply(x, mx.add(mx.multiply(mx.square(x), c * 0.044715), c))));
}

const geluTanhFused = compiledOr(geluTanh, () => [mx.array([-3, -1, 0, 0.5, 2, 4])] as [MxArray]);

export function gelu(x: MxArray, act: string): MxArray {
  if (act === 'gelu' || act === 'gelu_new_exact') {
    return mx.multiply(mx.multiply(x, 0.5), mx.add(1, mx.erf(mx.multiply(x, Math.SQRT1_2))));
  }
  // gelu_pytorch_tanh / gelu_new / gelu_fast: the tanh approximation
  return geluTanhFused(x);
}

interface EncoderLayer {
  q: [MxArray, MxArray]; k: [MxArray, MxArray]; v: [MxArray, MxArray]; o: [MxArray, MxArray];
  fc1: [MxArray, MxArray]; fc2: [MxArray, MxArray];
  ln1: [MxArray, MxArray]; ln2: [MxArray, MxArray];
}

export class VisionEncoder {
  readonly cfg: VisionConfig;
  private readonly patchW: MxArray;
  private readonly patchB: MxArray;
  private readonly posEmb: MxArray;
  private readonly layers: EncoderLayer[];
  private readonly post: [MxArray, MxArray];

  constructor(cfg: VisionConfig, w: WeightMap) {
    this.cfg = cfg;
    const g = (n: string): MxArray => {
      const t = w.get(`vision.${n}`);
      if (!t) throw new Error(`vision weight missing: ${n}`);
      return t;
    };
    const pair = (n: string): [MxArray, MxArray] => [g(`${n}.weight`), g(`${n}.bias`)];
    this.patchW = g('embeddings.patch_embedding.weight');
    this.patchB = g('embeddings.patch_embedding.bias');
    this.posEmb = g('embeddings.position_embedding.weight');
    this.layers = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const p = `encoder.layers.${i}.`;
      this.layers.push({
        q: pair(`${p}self_attn.q_proj`), k: pair(`${p}self_attn.k_proj`), v: pair(`${p}self_attn.v_proj`),
        o: pair(`${p}self_attn.out_proj`), fc1: pair(`${p}mlp.fc1`), fc2: pair(`${p}mlp.fc2`),
        ln1: pair(`${p}layer_norm1`), ln2: pair(`${p}layer_norm2`),
      });
    }
    this.post = pair('post_layernorm');
  }

  get patchesPerSide(): number {
    return Math.floor(this.cfg.imageSize / this.cfg.patchSize);
  }

  /** [N, C, H, W] -> [N, (H/p)*(W/p), D] patch embeddings (no position embedding). */
  embedPatches(pixels: MxArray): MxArray {
    const [N, C, H, W] = pixels.shape;
    const p = this.cfg.patchSize;
    const nh = Math.floor(H / p), nw = Math.floor(W / p);
    let x = pixels;
    if (nh * p !== H || nw * p !== W) {
      x = x.index('...', mx.Slice(0, nh * p), mx.Slice(0, nw * p));
    }
    x = x.reshape(N, C, nh, p, nw, p).transpose(0, 2, 4, 1, 3, 5).reshape(N, nh * nw, C * p * p);
    return linear(x, this.patchW, this.patchB);
  }

  /**
   * Encodes images. `patchMask` ([N][nh*nw], 1 = patch holds image pixels) is only needed for
   * padded images; without it every patch is valid.
   */
  forward(pixels: MxArray, patchMask?: Uint8Array[] | null): MxArray {
    const { h, mask } = this.embed(pixels, patchMask);
    let x = h;
    for (const layer of this.layers) x = this.layer(x, layer, mask);
    return mx.fast.layerNorm(x, this.post[0], this.post[1], this.cfg.layerNormEps);
  }

  /** forward(), evaluating and reclaiming memory every `every` layers (bounded peak memory). */
  async forwardReclaiming(pixels: MxArray, patchMask: Uint8Array[] | null | undefined, every: number): Promise<MxArray> {
    const { h, mask } = this.embed(pixels, patchMask);
    let x = h;
    for (let i = 0; i < this.layers.length; i++) {
      x = this.layer(x, this.layers[i], mask);
      if (every > 0 && (i + 1) % every === 0 && i + 1 < this.layers.length) {
        mx.eval(x);
        await reclaim();
      }
    }
    return mx.fast.layerNorm(x, this.post[0], this.post[1], this.cfg.layerNormEps);
  }

  private embed(pixels: MxArray, patchMask?: Uint8Array[] | null): { h: MxArray; mask?: MxArray } {
    const [N, , H, W] = pixels.shape;
    const p = this.cfg.patchSize;
    const nh = Math.floor(H / p), nw = Math.floor(W / p);
    const n = this.patchesPerSide;
    let h = this.embedPatches(pixels);
    const ids = new Int32Array(N * nh * nw);
    let anyPadding = false;
    for (let b = 0; b < N; b++) {
      const m = patchMask?.[b];
      if (!m || m.every((v) => v === 1)) {
        ids.set(patchPositionIds(nh, nw, n), b * nh * nw);
        continue;
      }
      anyPadding = true;
      // valid extent: rows with a valid first column, columns with a valid first row
      let vh = 0, vw = 0;
      for (let r = 0; r < nh; r++) vh += m[r * nw];
      for (let c = 0; c < nw; c++) vw += m[c];
      const pos = patchPositionIds(vh, vw, n);
      let k = 0;
      for (let i = 0; i < nh * nw; i++) if (m[i]) ids[b * nh * nw + i] = pos[k++] ?? 0;
    }
    const idArr = mx.array(Array.from(ids), mx.int32).reshape(N, nh * nw);
    h = mx.add(h, mx.take(this.posEmb, idArr, 0));
    let mask: MxArray | undefined;
    if (anyPadding && patchMask) {
      const flat: number[] = [];
      for (let b = 0; b < N; b++) {
        const m = patchMask[b];
        for (let i = 0; i < nh * nw; i++) flat.push(!m || m[i] ? 0 : F32_MIN);
      }
      mask = mx.array(flat, mx.float32).reshape(N, 1, 1, nh * nw);
    }
    return { h, mask };
  }

  private layer(h: MxArray, l: EncoderLayer, mask?: MxArray): MxArray {
    const [N, L, D] = h.shape;
    const heads = this.cfg.numHeads;
    const hd = D / heads;
    const x = mx.fast.layerNorm(h, l.ln1[0], l.ln1[1], this.cfg.layerNormEps);
    const split = (t: MxArray): MxArray => t.reshape(N, L, heads, hd).transpose(0, 2, 1, 3);
    const q = split(linear(x, l.q[0], l.q[1]));
    const k = split(linear(x, l.k[0], l.k[1]));
    const v = split(linear(x, l.v[0], l.v[1]));
    const a = attention(q, k, v, 1 / Math.sqrt(hd), mask).transpose(0, 2, 1, 3).reshape(N, L, D);
    h = mx.add(h, linear(a, l.o[0], l.o[1]));
    const y = mx.fast.layerNorm(h, l.ln2[0], l.ln2[1], this.cfg.layerNormEps);
    const m = linear(gelu(linear(y, l.fc1[0], l.fc1[1]), this.cfg.hiddenAct), l.fc2[0], l.fc2[1]);
    return mx.add(h, m);
  }
}
