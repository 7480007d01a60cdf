// SmolVLMForConditionalGeneration: vision encoder -> connector -> image features spliced into the
// token embeddings at the <image> positions -> Llama decoder -> logits.
import { loadModelFolder, type SmolVLMConfig } from './config.js';
import { Connector } from './connector.js';
import { mx, reclaim, type MxArray } from './mlx.js';
import { KVCache, TextModel } from './text.js';
import { VisionEncoder } from './vision.js';
import { loadWeights, checkWeights, type WeightMap } from './weights.js';

export interface ImageFeatures {
  /** [N, imageSeqLen, textHidden] */
  features: MxArray;
  /** [N, patches, visionHidden], only when requested. */
  visionHidden?: MxArray;
}

export class SmolVLMModel {
  readonly config: SmolVLMConfig;
  readonly vision: VisionEncoder;
  readonly connector: Connector;
  readonly text: TextModel;

  constructor(config: SmolVLMConfig, weights: WeightMap) {
    checkWeights(weights, config);
    this.config = config;
    this.vision = new VisionEncoder(config.vision, weights);
    this.connector = new Connector(config.scaleFactor, weights);
    this.text = new TextModel(config.text, weights);
  }

  static load(dir: string): SmolVLMModel {
    const folder = loadModelFolder(dir);
    return new SmolVLMModel(folder.model, loadWeights(dir, folder.model));
  }

  /**
   * Encodes [N, 3, S, S] pixel values in chunks of `batch` images and returns the connector
   * output. Memory is reclaimed every few layers and after each chunk (see reclaim()); `between`
   * runs after each chunk, e.g. to check for cancellation.
   */
  async encodeImages(pixels: MxArray, opts: { batch?: number; keepVisionHidden?: boolean; patchMask?: Uint8Array[] | null; between?: () => void; reclaimEvery?: number } = {}): Promise<ImageFeatures> {
    const N = pixels.shape[0];
    const batch = Math.max(1, opts.batch ?? 1);
    const feats: MxArray[] = [];
    const hids: MxArray[] = [];
    for (let i = 0; i < N; i += batch) {
      const j = Math.min(N, i + batch);
      const px = N === j - i ? pixels : pixels.index(mx.Slice(i, j));
      const mask = opts.patchMask ? opts.patchMask.slice(i, j) : null;
      const hidden = await this.vision.forwardReclaiming(px, mask, opts.reclaimEvery ?? 4);
      const f = this.connector.forward(hidden);
      if (opts.keepVisionHidden) {
        mx.eval(f, hidden);
        hids.push(hidden);
      } else {
        mx.eval(f);
      }
      feats.push(f);
      await reclaim();
      opts.between?.();
    }
    const features = feats.length === 1 ? feats[0] : mx.concatenate(feats, 0);
    const out: ImageFeatures = { features };
    if (opts.keepVisionHidden) out.visionHidden = hids.length === 1 ? hids[0] : mx.concatenate(hids, 0);
    return out;
  }

  /**
   * Token embeddings with the image features placed, in order, at the positions of the image
   * token (as transformers' inputs_merger does). The number of image tokens must equal
   * N * imageSeqLen.
   */
  embedInputs(ids: ArrayLike<number>, imageFeatures?: MxArray | null): MxArray {
    const text = this.text.embed(ids);
    if (!imageFeatures) return text;
    const T = ids.length;
    const H = this.config.text.hiddenSize;
    const flat = imageFeatures.reshape(-1, H);
    const nImg = flat.shape[0];
    const index = new Array<number>(T);
    let k = 0;
    for (let t = 0; t < T; t++) index[t] = ids[t] === this.config.imageTokenId ? T + k++ : t;
    if (k !== nImg) throw new Error(`SmolVLM: ${k} image tokens in the prompt for ${nImg} image feature vectors`);
    const all = mx.concatenate([text.reshape(T, H), flat], 0);
    return mx.take(all, mx.array(index, mx.int32), 0).reshape(1, T, H);
  }

  newCache(): KVCache {
    return this.text.newCache();
  }

  /** Forward pass of a prompt, reclaiming memory every few layers when it is long. */
  async prefill(embeds: MxArray, cache: KVCache, lastOnly = true): Promise<MxArray> {
    const L = embeds.shape[1];
    let h = L > 64 ? await this.text.forwardReclaiming(embeds, cache, 6) : this.text.forward(embeds, cache);
    if (lastOnly) h = h.index(mx.Slice(), mx.Slice(-1));
    return this.text.logits(h);
  }

  /** Full forward pass: [1, L, H] embeddings -> [1, L, vocab] logits (or only the last position's). */
  forward(embeds: MxArray, cache: KVCache = this.newCache(), lastOnly = false): MxArray {
    let h = this.text.forward(embeds, cache);
    if (lastOnly) h = h.index(mx.Slice(), mx.Slice(-1));
    return this.text.logits(h);
  }
}
