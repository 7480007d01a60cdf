// SmolVLM connector: pixel shuffle (space-to-depth by scale_factor: s*s neighbouring patches are
// concatenated into one token, cutting the sequence by s^2) followed by a bias-free projection
// into the text model's embedding space.
import { linear, type MxArray } from './mlx.js';
import type { WeightMap } from './weights.js';

/** [N, seq, D] -> [N, seq/s^2, D*s^2], the same element order as transformers' pixel_shuffle. */
export function pixelShuffle(x: MxArray, s: number): MxArray {
  const [N, seq, D] = x.shape;
  const side = Math.round(Math.sqrt(seq));
  if (side * side !== seq || side % s !== 0) throw new Error(`pixelShuffle: ${seq} patches is not a square divisible by ${s}`);
  let y = x.reshape(N, side, side / s, D * s);
  y = y.transpose(0, 2, 1, 3).reshape(N, side / s, side / s, D * s * s);
  y = y.transpose(0, 2, 1, 3);
  return y.reshape(N, seq / (s * s), D * s * s);
}

export class Connector {
  private readonly proj: MxArray;

  constructor(readonly scaleFactor: number, w: WeightMap) {
    const p = w.get('connector.modality_projection.proj.weight');
    if (!p) throw new Error('connector weight missing: modality_projection.proj.weight');
    this.proj = p;
  }

  forward(visionHidden: MxArray): MxArray {
    return linear(pixelShuffle(visionHidden, this.scaleFactor), this.proj);
  }
}
