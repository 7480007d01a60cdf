// SmolVLMProcessor: chat template (Jinja), image / video preprocessing and the expansion of each
// <image> / <video> placeholder into the token layout the model was trained with:
//   single image: <fake_token_around_image><global-img><image>*seq<fake_token_around_image>
//   split image:  per tile <fake_token_around_image><row_R_col_C><image>*seq, "\n" after each row,
//                 then "\n" + the single-image form for the global image
//   video:        "You are provided the following series of {N in words} frames from a {H:MM:SS}
//                 [H:MM:SS] video.\n" + per frame "\nFrame from MM:SS:" + single-image form, + "\n\n"
import { Template } from '@huggingface/jinja';
import type { ModelFolder, ProcessorConfig, SpecialTokens } from './config.js';
import { resizeVideoFrame, splitImage, toPixelValues, type RgbImage } from './image.js';
import { SmolTokenizer } from './tokenizer.js';

export type ChatContent = { type: 'text'; text: string } | { type: 'image' } | { type: 'video' };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ChatContent[] | string;
}

export interface ProcessedInputs {
  /** Chat-templated prompt before placeholder expansion. */
  prompt: string;
  /** Prompt with image / video placeholders expanded. */
  expandedText: string;
  inputIds: number[];
  /** float32 [numImages, 3, height, width] or null without images. */
  pixelValues: Float32Array | null;
  numImages: number;
  height: number;
  width: number;
  /** Per image, 1 for patches that hold image pixels; null when no image is padded. */
  patchMask: Uint8Array[] | null;
}

export interface VideoInput {
  frames: RgbImage[];
  /** Seconds of each frame (as shown in the "Frame from MM:SS" markers). */
  timestamps: number[];
  /** Seconds, shown in the intro as H:MM:SS. */
  duration: number;
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** English cardinal words as the num2words package writes them (e.g. 64 -> "sixty-four", 101 -> "one hundred and one"). */
export function numberToWords(n: number): string {
  n = Math.trunc(n);
  if (n < 0) return `minus ${numberToWords(-n)}`;
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? `-${ONES[n % 10]}` : '');
  if (n < 1000) {
    const rest = n % 100;
    return `${ONES[Math.floor(n / 100)]} hundred${rest ? ` and ${numberToWords(rest)}` : ''}`;
  }
  if (n < 1_000_000) {
    const rest = n % 1000;
    const head = `${numberToWords(Math.floor(n / 1000))} thousand`;
    if (!rest) return head;
    return rest < 100 ? `${head} and ${numberToWords(rest)}` : `${head}, ${numberToWords(rest)}`;
  }
  return String(n);
}

/** Python's str(timedelta(seconds=int(s))): "H:MM:SS". */
export function formatDuration(seconds: number): string {
  let s = Math.max(0, Math.trunc(seconds));
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const hms = `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  return days ? `${days} day${days === 1 ? '' : 's'}, ${hms}` : hms;
}

/** "MM:SS" of a frame timestamp, as the processor writes it (minutes not wrapped at 60). */
export function formatFrameTimestamp(seconds: number): string {
  const m = Math.trunc(seconds / 60), s = Math.trunc(seconds % 60);
  return `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

/**
 * Frame indices to sample from a video, as SmolVLMVideoProcessor.sample_frames: about `fps`
 * frames per second, at most `maxFrames`, skipping `skipSecs` at both ends of long videos, spread
 * uniformly (numpy linspace truncated to int, deduplicated).
 */
export function sampleFrameIndices(totalFrames: number, videoFps: number, opts: { fps: number; maxFrames: number; skipSecs?: number; duration?: number }): number[] {
  if (totalFrames <= 0) return [];
  const duration = opts.duration ?? totalFrames / videoFps;
  const skip = opts.skipSecs ?? 1;
  const estimated = Math.round(opts.fps * duration);
  let desired = Math.min(estimated, opts.maxFrames);
  if (desired < 1) desired = 1;
  let start = 0;
  let end = totalFrames - 1;
  if (skip > 0 && duration - 2 * skip > opts.maxFrames * opts.fps) {
    start = Math.trunc(skip * videoFps);
    end = Math.trunc(totalFrames - skip * videoFps);
  }
  start = Math.max(0, start);
  end = Math.min(end, totalFrames - 1);
  if (start >= end) { start = 0; end = totalFrames - 1; }
  // numpy.linspace(start, end, desired, dtype=int) then numpy.unique
  const step = desired > 1 ? (end - start) / (desired - 1) : 0;
  const set = new Set<number>();
  for (let i = 0; i < desired; i++) set.add(Math.trunc(desired > 1 && i === desired - 1 ? end : i * step + start));
  return [...set].sort((a, b) => a - b);
}

export class SmolVLMProcessor {
  readonly config: ProcessorConfig;
  readonly tokenizer: SmolTokenizer;
  readonly special: SpecialTokens;
  private readonly template: Template;
  private readonly bosToken: string | null;
  private readonly eosToken: string | null;

  constructor(folder: ModelFolder, tokenizer?: SmolTokenizer) {
    this.config = folder.processor;
    this.special = folder.specialTokens;
    this.tokenizer = tokenizer ?? new SmolTokenizer(folder.tokenizerJson, folder.tokenizerConfig);
    this.template = new Template(folder.processor.chatTemplate);
    this.bosToken = folder.specialTokens.bos;
    this.eosToken = folder.specialTokens.eos;
  }

  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt = true): string {
    const norm = messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content,
    }));
    return this.template.render({
      messages: norm,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
    });
  }

  singleImageString(): string {
    const s = this.special;
    return `${s.fakeImage}${s.globalImage}${s.image.repeat(this.config.imageSeqLen)}${s.fakeImage}`;
  }

  imageString(rows: number, cols: number): string {
    if (rows === 0 && cols === 0) return this.singleImageString();
    const s = this.special;
    const tokens = s.image.repeat(this.config.imageSeqLen);
    let out = '';
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out += `${s.fakeImage}<row_${r + 1}_col_${c + 1}>${tokens}`;
      out += '\n';
    }
    return `${out}\n${this.singleImageString()}`;
  }

  videoString(timestamps: number[], duration: number): string {
    let out = `You are provided the following series of ${numberToWords(timestamps.length)} frames from a ${formatDuration(duration)} [H:MM:SS] video.\n`;
    for (const t of timestamps) out += `\nFrame from ${formatFrameTimestamp(t)}:${this.singleImageString()}`;
    return `${out}\n\n`;
  }

  /**
   * Processes a prompt that holds one image placeholder per image (or one video placeholder for a
   * video): expands the placeholders, preprocesses pixels and tokenizes.
   */
  process(prompt: string, media: { images?: RgbImage[]; video?: VideoInput } = {}): ProcessedInputs {
    const s = this.special;
    let expanded = prompt;
    let tiles: RgbImage[] = [];
    if (media.images && media.images.length > 0) {
      const parts = prompt.split(s.image);
      if (parts.length - 1 !== media.images.length) {
        throw new Error(`The number of images in the text [${parts.length - 1}] and images [${media.images.length}] should be the same.`);
      }
      expanded = parts[0];
      media.images.forEach((img, i) => {
        const split = splitImage(img, this.config.image);
        tiles.push(...split.tiles);
        expanded += this.imageString(split.rows, split.cols) + parts[i + 1];
      });
    } else if (media.video) {
      const v = media.video;
      if (v.frames.length !== v.timestamps.length) throw new Error('video: one timestamp per frame is needed');
      if (!prompt.includes(s.video)) throw new Error(`The prompt holds no ${s.video} placeholder for the video`);
      expanded = prompt.replace(s.video, this.videoString(v.timestamps, v.duration));
      tiles = v.frames.map((f) => resizeVideoFrame(f, this.config.video));
    } else if (prompt.includes(s.image)) {
      throw new Error('The prompt holds image placeholders but no images were given');
    }
    const inputIds = this.tokenizer.encode(expanded);
    if (tiles.length === 0) {
      return { prompt, expandedText: expanded, inputIds, pixelValues: null, numImages: 0, height: 0, width: 0, patchMask: null };
    }
    const ic = this.config.image;
    const px = toPixelValues(tiles, ic);
    let patchMask: Uint8Array[] | null = null;
    if (px.padded) patchMask = patchMaskFromPixels(px.mask, tiles.length, px.height, px.width, this.patchSizeHint);
    return { prompt, expandedText: expanded, inputIds, pixelValues: px.data, numImages: tiles.length, height: px.height, width: px.width, patchMask };
  }

  /** Patch size used to turn a pixel mask into a patch mask (set by the model owner). */
  patchSizeHint = 16;
}

/** Patch is valid when any of its pixels is (transformers' unfold + sum > 0). */
export function patchMaskFromPixels(mask: Uint8Array, n: number, H: number, W: number, p: number): Uint8Array[] {
  const nh = Math.floor(H / p), nw = Math.floor(W / p);
  const out: Uint8Array[] = [];
  for (let b = 0; b < n; b++) {
    const m = new Uint8Array(nh * nw);
    for (let r = 0; r < nh; r++) for (let c = 0; c < nw; c++) {
      let any = 0;
      for (let y = r * p; y < (r + 1) * p && !any; y++) for (let x = c * p; x < (c + 1) * p; x++) if (mask[(b * H + y) * W + x]) { any = 1; break; }
      m[r * nw + c] = any;
    }
    out.push(m);
  }
  return out;
}
