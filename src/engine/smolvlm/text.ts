// Llama-style decoder of SmolVLM (SmolLM2): RMSNorm pre-norm layers, rotary position embeddings
// (rotate-half convention), grouped-query attention with a KV cache, SiLU-gated MLP, final norm
// and the language-model head.
import type { TextConfig } from './config.js';
import { attention, compiledOr, linear, mx, reclaim, type MxArray } from './mlx.js';
import type { WeightMap } from './weights.js';

/** silu(gate) * up, fused when mx.compile works. */
export const swiglu = compiledOr(
  (gate: MxArray, up: MxArray) => mx.multiply(mx.multiply(gate, mx.sigmoid(gate)), up),
  () => [mx.array([-2, -0.5, 0, 1, 3]), mx.array([1, 2, -1, 0.5, 2])] as [MxArray, MxArray],
);

interface DecoderLayer {
  q: MxArray; k: MxArray; v: MxArray; o: MxArray;
  qb: MxArray | null; kb: MxArray | null; vb: MxArray | null; ob: MxArray | null;
  gate: MxArray; up: MxArray; down: MxArray;
  inNorm: MxArray; postNorm: MxArray;
}

/**
 * Per-layer keys and values, [1, kvHeads, capacity, headDim], grown in steps of 256 positions.
 * Attention reads the whole buffer with a mask over the unfilled tail instead of a slice: with no
 * view keeping the old buffer alive, MLX can update it in place for each new token.
 */
export class KVCache {
  offset = 0;
  private readonly keys: (MxArray | null)[];
  private readonly values: (MxArray | null)[];
  private readonly step = 256;

  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
  }

  /** Positions the buffers hold (filled or not). */
  get capacity(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /** Capacity needed to append L tokens. */
  capacityFor(L: number): number {
    const end = this.offset + L;
    return this.capacity >= end ? this.capacity : Math.ceil(end / this.step) * this.step;
  }

  /** Writes k, v ([1, kvH, L, hd]) of a layer at the current offset; returns the full buffers. */
  update(layer: number, k: MxArray, v: MxArray): [MxArray, MxArray] {
    const end = this.offset + k.shape[2];
    let K = this.keys[layer];
    let V = this.values[layer];
    if (!K || !V || end > K.shape[2]) {
      const [B, H, , D] = k.shape;
      const have = K ? K.shape[2] : 0;
      const extra = Math.ceil(end / this.step) * this.step - have;
      const zk = mx.zeros([B, H, extra, D], k.dtype);
      const zv = mx.zeros([B, H, extra, D], v.dtype);
      K = K ? mx.concatenate([K, zk], 2) : zk;
      V = V ? mx.concatenate([V, zv], 2) : zv;
    }
    K.indexPut_(['...', mx.Slice(this.offset, end), mx.Slice()], k);
    V.indexPut_(['...', mx.Slice(this.offset, end), mx.Slice()], v);
    this.keys[layer] = K;
    this.values[layer] = V;
    return [K, V];
  }

  /** Called after all layers processed L new tokens. */
  advance(L: number): void {
    this.offset += L;
  }

  /** The buffers, to evaluate together with a step's output. */
  state(): MxArray[] {
    const out: MxArray[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      if (this.keys[i]) out.push(this.keys[i]!);
      if (this.values[i]) out.push(this.values[i]!);
    }
    return out;
  }
}

export class TextModel {
  readonly cfg: TextConfig;
  readonly embedTokens: MxArray;
  private readonly layers: DecoderLayer[];
  private readonly norm: MxArray;
  private readonly lmHead: MxArray;

  constructor(cfg: TextConfig, w: WeightMap) {
    this.cfg = cfg;
    const g = (n: string): MxArray => {
      const t = w.get(n);
      if (!t) throw new Error(`text weight missing: ${n}`);
      return t;
    };
    const opt = (n: string): MxArray | null => w.get(n) ?? null;
    this.embedTokens = g('text.embed_tokens.weight');
    this.norm = g('text.norm.weight');
    this.lmHead = g('lm_head.weight');
    this.layers = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const p = `text.layers.${i}.`;
      this.layers.push({
        q: g(`${p}self_attn.q_proj.weight`), k: g(`${p}self_attn.k_proj.weight`),
        v: g(`${p}self_attn.v_proj.weight`), o: g(`${p}self_attn.o_proj.weight`),
        qb: opt(`${p}self_attn.q_proj.bias`), kb: opt(`${p}self_attn.k_proj.bias`),
        vb: opt(`${p}self_attn.v_proj.bias`), ob: opt(`${p}self_attn.o_proj.bias`),
        gate: g(`${p}mlp.gate_proj.weight`), up: g(`${p}mlp.up_proj.weight`), down: g(`${p}mlp.down_proj.weight`),
        inNorm: g(`${p}input_layernorm.weight`), postNorm: g(`${p}post_attention_layernorm.weight`),
      });
    }
  }

  newCache(): KVCache {
    return new KVCache(this.cfg.numLayers);
  }

  /** Token ids -> [1, L, H] embeddings. */
  embed(ids: ArrayLike<number>): MxArray {
    const idx = mx.array(Array.from(ids), mx.int32);
    return mx.take(this.embedTokens, idx, 0).reshape(1, ids.length, this.cfg.hiddenSize);
  }

  /** Additive causal mask [L, capacity] for L new tokens at the cache offset (unfilled slots masked too). */
  private mask(L: number, cache: KVCache): MxArray {
    const offset = cache.offset;
    const rows = mx.expandDims(mx.arange(offset, offset + L, 1, mx.int32), 1);
    const cols = mx.expandDims(mx.arange(0, cache.capacityFor(L), 1, mx.int32), 0);
    return mx.where(mx.greater(cols, rows), mx.array(-Infinity, mx.float32), mx.array(0, mx.float32));
  }

  /** Runs the decoder over [1, L, H] input embeddings at the cache's offset; returns final-normed hidden states. */
  forward(inputs: MxArray, cache: KVCache): MxArray {
    const L = inputs.shape[1];
    const mask = this.mask(L, cache);
    let h = inputs;
    this.layers.forEach((layer, i) => {
      h = this.layer(h, layer, i, cache, mask);
    });
    cache.advance(L);
    return mx.fast.rmsNorm(h, this.norm, this.cfg.rmsNormEps);
  }

  /** forward(), evaluating and reclaiming memory every `every` layers (for long prompts). */
  async forwardReclaiming(inputs: MxArray, cache: KVCache, every: number): Promise<MxArray> {
    const L = inputs.shape[1];
    const mask = this.mask(L, cache);
    let h = inputs;
    for (let i = 0; i < this.layers.length; i++) {
      h = this.layer(h, this.layers[i], i, cache, mask);
      if (every > 0 && (i + 1) % every === 0 && i + 1 < this.layers.length) {
        mx.eval(h, ...cache.state());
        await reclaim();
      }
    }
    cache.advance(L);
    return mx.fast.rmsNorm(h, this.norm, this.cfg.rmsNormEps);
  }

  /** Hidden states [.., H] -> logits [.., vocab]. */
  logits(hidden: MxArray): MxArray {
    return linear(hidden, this.lmHead);
  }

  private layer(h: MxArray, l: DecoderLayer, index: number, cache: KVCache, mask?: MxArray): MxArray {
    const { numHeads, numKvHeads, headDim, ropeTheta, rmsNormEps } = this.cfg;
    const [B, L] = h.shape;
    const x = mx.fast.rmsNorm(h, l.inNorm, rmsNormEps);
    let q = linear(x, l.q, l.qb).reshape(B, L, numHeads, headDim).transpose(0, 2, 1, 3);
    let k = linear(x, l.k, l.kb).reshape(B, L, numKvHeads, headDim).transpose(0, 2, 1, 3);
    const v = linear(x, l.v, l.vb).reshape(B, L, numKvHeads, headDim).transpose(0, 2, 1, 3);
    q = mx.fast.rope(q, headDim, false, ropeTheta, 1, cache.offset);
    k = mx.fast.rope(k, headDim, false, ropeTheta, 1, cache.offset);
    const [K, V] = cache.update(index, k, v);
    const a = attention(q, K, V, 1 / Math.sqrt(headDim), mask)
      .transpose(0, 2, 1, 3).reshape(B, L, numHeads * headDim);
    h = mx.add(h, linear(a, l.o, l.ob));
    const y = mx.fast.rmsNorm(h, l.postNorm, rmsNormEps);
    return mx.add(h, linear(swiglu(linear(y, l.gate), linear(y, l.up)), l.down));
  }
}
