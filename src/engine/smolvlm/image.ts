// Image preprocessing as transformers' SmolVLM image processor (PIL backend) does it:
// resize the longest edge, optionally split into tiles of the encoder's size plus a global image,
// rescale and normalise to channels-first float32.
//
// Resampling reimplements Pillow's separable convolution resampler for 8-bit images
// (Resample.c): per output pixel a normalised window of filter taps, converted to 22-bit fixed
// point, horizontal pass first, each pass rounded and clipped to uint8. With the Lanczos-3 filter
// this reproduces PIL's LANCZOS output exactly for the cases in the fixtures.
import type { ImageProcessorConfig, VideoProcessorConfig } from './config.js';

/** 8-bit RGB, rows top to bottom, pixels interleaved (R, G, B). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export const MAX_IMAGE_SIZE = 4096;
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x: number): number {
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output pixel
  kk: Int32Array; // fixed-point taps, ksize per output pixel
}

function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 3 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const tmp = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      tmp[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const k = x < xmax ? (ww !== 0 ? tmp[x] / ww : tmp[x]) : 0;
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  const q = Math.floor(v / ONE);
  return q < 0 ? 0 : q > 255 ? 255 : q;
}

function horizontal(src: RgbImage, outW: number): RgbImage {
  const { width: w, height: h, data } = src;
  const { ksize, bounds, kk } = precompute(w, outW);
  const out = new Uint8Array(outW * h * 3);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2], n = bounds[xx * 2 + 1], k = xx * ksize;
      let r = HALF, g = HALF, b = HALF;
      for (let x = 0; x < n; x++) {
        const p = row + (x + xmin) * 3, c = kk[k + x];
        r += data[p] * c; g += data[p + 1] * c; b += data[p + 2] * c;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(r); out[o + 1] = clip8(g); out[o + 2] = clip8(b);
    }
  }
  return { data: out, width: outW, height: h };
}

function vertical(src: RgbImage, outH: number): RgbImage {
  const { width: w, height: h, data } = src;
  const { ksize, bounds, kk } = precompute(h, outH);
  const out = new Uint8Array(w * outH * 3);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2], n = bounds[yy * 2 + 1], k = yy * ksize;
    for (let x = 0; x < w; x++) {
      let r = HALF, g = HALF, b = HALF;
      for (let y = 0; y < n; y++) {
        const p = ((y + ymin) * w + x) * 3, c = kk[k + y];
        r += data[p] * c; g += data[p + 1] * c; b += data[p + 2] * c;
      }
      const o = (yy * w + x) * 3;
      out[o] = clip8(r); out[o + 1] = clip8(g); out[o + 2] = clip8(b);
    }
  }
  return { data: out, width: w, height: outH };
}

/** Resizes like PIL's Image.resize((width, height), Image.LANCZOS) on an RGB image. */
export function resizeLanczos(img: RgbImage, width: number, height: number): RgbImage {
  if (width < 1 || height < 1) throw new Error(`resize: bad size ${width}x${height}`);
  let cur = img;
  if (width !== cur.width) cur = horizontal(cur, width);
  if (height !== cur.height) cur = vertical(cur, height);
  if (cur === img) cur = { data: img.data.slice(), width, height };
  return cur;
}

/** Copies a rectangle out of an image. */
export function crop(img: RgbImage, x0: number, y0: number, w: number, h: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const s = ((y0 + y) * img.width + x0) * 3;
    out.set(img.data.subarray(s, s + w * 3), y * w * 3);
  }
  return { data: out, width: w, height: h };
}

/** (height, width) after scaling the longest edge to maxLen, the other edge rounded up to even. */
export function sizeForLongestEdge(height: number, width: number, maxLen: number): [number, number] {
  const aspect = width / height;
  let h: number, w: number;
  if (width >= height) {
    w = maxLen;
    h = Math.trunc(w / aspect);
    if (h % 2 !== 0) h += 1;
  } else {
    h = maxLen;
    w = Math.trunc(h * aspect);
    if (w % 2 !== 0) w += 1;
  }
  h = Math.max(h, 1);
  w = Math.max(w, 1);
  // scale below the absolute upper bound
  const a2 = w / h;
  if (w >= h && w > MAX_IMAGE_SIZE) { w = MAX_IMAGE_SIZE; h = Math.trunc(w / a2); }
  else if (h > w && h > MAX_IMAGE_SIZE) { h = MAX_IMAGE_SIZE; w = Math.trunc(h * a2); }
  return [Math.max(h, 1), Math.max(w, 1)];
}

/** (height, width) rounded up to multiples of the encoder tile size, keeping the aspect ratio. */
export function sizeForVisionEncoder(height: number, width: number, tile: number): [number, number] {
  const aspect = width / height;
  let h = height, w = width;
  if (w >= h) {
    w = Math.ceil(w / tile) * tile;
    h = Math.trunc(w / aspect);
    h = Math.ceil(h / tile) * tile;
  } else {
    h = Math.ceil(h / tile) * tile;
    w = Math.trunc(h * aspect);
    w = Math.ceil(w / tile) * tile;
  }
  return [h, w];
}

export interface SplitImage {
  /** Tiles in row-major order, then the global image last (or only the global image). */
  tiles: RgbImage[];
  /** 0 and 0 when the image was not split. */
  rows: number;
  cols: number;
}

/** The resize + split steps of SmolVLMImageProcessor for one image (uint8 output, square tiles). */
export function splitImage(img: RgbImage, cfg: ImageProcessorConfig): SplitImage {
  let cur = img;
  if (cfg.doResize) {
    const [h, w] = sizeForLongestEdge(cur.height, cur.width, cfg.longestEdge);
    cur = resizeLanczos(cur, w, h);
  }
  const tile = cfg.maxImageSize;
  if (!cfg.doImageSplitting) {
    return { tiles: [resizeLanczos(cur, tile, tile)], rows: 0, cols: 0 };
  }
  const [h, w] = sizeForVisionEncoder(cur.height, cur.width, tile);
  cur = resizeLanczos(cur, w, h);
  if (cur.height > tile || cur.width > tile) {
    const rows = Math.floor((cur.height - tile) / tile) + 1;
    const cols = Math.floor((cur.width - tile) / tile) + 1;
    const tiles: RgbImage[] = [];
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) tiles.push(crop(cur, c * tile, r * tile, tile, tile));
    tiles.push(resizeLanczos(cur, tile, tile));
    return { tiles, rows, cols };
  }
  return { tiles: [cur], rows: 0, cols: 0 };
}

/** The resize steps of SmolVLMVideoProcessor for one frame: longest edge, then a square of the encoder size. */
export function resizeVideoFrame(img: RgbImage, cfg: VideoProcessorConfig): RgbImage {
  const [h, w] = sizeForLongestEdge(img.height, img.width, Math.min(MAX_IMAGE_SIZE, cfg.longestEdge));
  const cur = resizeLanczos(img, w, h);
  return resizeLanczos(cur, cfg.maxImageSize, cfg.maxImageSize);
}

export interface Normalization {
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

/**
 * Writes equally sized images as float32 [N, 3, S, S] (channels first), rescaled and normalised
 * in float32 like numpy does it. Images smaller than the largest are zero-padded bottom/right; the
 * returned mask marks the valid pixels ([N, H, W], 1 = valid).
 */
export function toPixelValues(images: RgbImage[], norm: Normalization): { data: Float32Array; height: number; width: number; mask: Uint8Array; padded: boolean } {
  const H = Math.max(...images.map((i) => i.height));
  const W = Math.max(...images.map((i) => i.width));
  const data = new Float32Array(images.length * 3 * H * W);
  const mask = new Uint8Array(images.length * H * W);
  let padded = false;
  const f = Math.fround;
  const mean = norm.imageMean.map(f), std = norm.imageStd.map(f);
  const lut: Float32Array[] = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = norm.doRescale ? f(v * norm.rescaleFactor) : v;
      if (norm.doNormalize) x = f(f(x - mean[c]) / std[c]);
      t[v] = x;
    }
    return t;
  });
  images.forEach((img, n) => {
    if (img.height !== H || img.width !== W) padded = true;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const s = (y * img.width + x) * 3;
        mask[(n * H + y) * W + x] = 1;
        for (let c = 0; c < 3; c++) data[((n * 3 + c) * H + y) * W + x] = lut[c][img.data[s + c]];
      }
    }
  });
  return { data, height: H, width: W, mask, padded };
}
