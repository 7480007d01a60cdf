// A small PNG decoder (non-interlaced, bit depth 8 or 16, gray / gray+alpha / RGB / RGBA / palette)
// producing 8-bit RGB, so fixtures and test pictures can be read without an image library.
// Transparent pixels are composited over white, as transformers' convert_to_rgb does.
import { inflateSync } from 'node:zlib';
import type { RgbImage } from './image.js';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

export function decodePng(buf: Uint8Array): RgbImage {
  for (let i = 0; i < 8; i++) if (buf[i] !== SIGNATURE[i]) throw new Error('png: bad signature');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 8;
  let width = 0, height = 0, depth = 0, colorType = 0, interlace = 0;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  while (pos < buf.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(pos + 8);
      height = dv.getUint32(pos + 12);
      depth = data[8];
      colorType = data[9];
      interlace = data[12];
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (interlace !== 0) throw new Error('png: interlaced images are not supported');
  if (depth !== 8 && depth !== 16) throw new Error(`png: bit depth ${depth} is not supported`);
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!channels) throw new Error(`png: color type ${colorType} is not supported`);
  if (colorType === 3 && depth !== 8) throw new Error('png: palette images must be 8-bit');
  const raw = inflateSync(Buffer.concat(idat));
  const bpp = channels * (depth / 8);
  const stride = width * bpp;
  const pixels = new Uint8Array(height * stride);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) v += paeth(a, b, c);
      else if (filter !== 0) throw new Error(`png: bad filter ${filter}`);
      out[x] = v & 255;
    }
    prev = out;
  }
  const rgb = new Uint8Array(width * height * 3);
  const sample = (i: number, ch: number): number => (depth === 8 ? pixels[i * bpp + ch] : pixels[i * bpp + ch * 2]);
  const over = (c: number, alpha: number): number => Math.round((c * alpha + 255 * (255 - alpha)) / 255);
  for (let i = 0; i < width * height; i++) {
    let r: number, g: number, b: number, alpha = 255;
    if (colorType === 0 || colorType === 4) {
      r = g = b = sample(i, 0);
      if (colorType === 4) alpha = sample(i, 1);
    } else if (colorType === 3) {
      const idx = pixels[i];
      r = palette![idx * 3]; g = palette![idx * 3 + 1]; b = palette![idx * 3 + 2];
      if (trns && idx < trns.length) alpha = trns[idx];
    } else {
      r = sample(i, 0); g = sample(i, 1); b = sample(i, 2);
      if (colorType === 6) alpha = sample(i, 3);
    }
    if (alpha !== 255) { r = over(r, alpha); g = over(g, alpha); b = over(b, alpha); }
    rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b;
  }
  return { data: rgb, width, height };
}
