// The SmolVLM2 engine API: load a model folder once, then describe an image or a list of video
// frames with a prompt. Runs synchronously on the calling thread (use SmolVLMClient from client.ts
// to run it in a worker thread).
import { loadModelFolder, type ModelFolder } from './config.js';
import { CancelledError } from './errors.js';
import { generate, type StopReason } from './generate.js';
import type { RgbImage } from './image.js';
import { fromTyped } from './mlx.js';
import { SmolVLMModel } from './model.js';
import { SmolVLMProcessor, sampleFrameIndices, type ChatContent, type ChatMessage } from './processor.js';
import { loadWeights } from './weights.js';

/** Raw pixels: 8-bit RGB (3 channels, default) or RGBA (alpha composited on white), row-major. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels?: 3 | 4;
}

export interface VideoFrame extends RawImage {
  /** Seconds; shown to the model as "Frame from MM:SS". */
  timestamp: number;
}

export interface DescribeRequest {
  /** Video frames (in time order) ... */
  frames?: VideoFrame[];
  /** ... or one image. */
  image?: RawImage;
  system?: string;
  prompt: string;
  /** Default 256. */
  maxTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  seed?: number;
  /** Stop at <end_of_utterance> / the model's EOS tokens (default true). */
  stopAtEndOfUtterance?: boolean;
  /** Seconds shown in the video intro; default: span of the timestamps plus one frame interval. */
  videoDuration?: number;
  /**
   * Resample the given frames at the processor's fps / max_frames as transformers does for a whole
   * video (default false: frames are used as given, uniformly thinned to max_frames if there are more).
   */
  sampleAtProcessorFps?: boolean;
}

export interface DescribeTimings {
  preprocessMs: number;
  visionMs: number;
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
  /** Tokens after the first, per second of decoding. */
  decodeTokensPerSecond: number;
}

export interface DescribeResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  numImages: number;
  stopReason: StopReason;
  timings: DescribeTimings;
}

export interface DescribeHooks {
  /** Polled between images and tokens; true aborts with a CancelledError. */
  shouldStop?: () => boolean;
  onToken?: (id: number, textSoFar: string) => void;
}

export { CancelledError };

export function toRgb(img: RawImage): RgbImage {
  const ch = img.channels ?? 3;
  if (img.data.length < img.width * img.height * ch) {
    throw new Error(`image data holds ${img.data.length} bytes, ${img.width}x${img.height}x${ch} needed`);
  }
  if (ch === 3) return { data: img.data, width: img.width, height: img.height };
  const out = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) {
    const a = img.data[i * 4 + 3];
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((img.data[i * 4 + c] * a + 255 * (255 - a)) / 255);
  }
  return { data: out, width: img.width, height: img.height };
}

export class SmolVLM {
  readonly folder: ModelFolder;
  readonly model: SmolVLMModel;
  readonly processor: SmolVLMProcessor;

  constructor(folder: ModelFolder, model: SmolVLMModel) {
    this.folder = folder;
    this.model = model;
    this.processor = new SmolVLMProcessor(folder);
    this.processor.patchSizeHint = folder.model.vision.patchSize;
  }

  static async load(dir: string): Promise<SmolVLM> {
    const folder = loadModelFolder(dir);
    return new SmolVLM(folder, new SmolVLMModel(folder.model, loadWeights(dir, folder.model)));
  }

  /** The processor's video sampling settings, for callers that pick frames themselves. */
  get videoSampling(): { fps: number; maxFrames: number; frameSize: number } {
    const v = this.folder.processor.video;
    return { fps: v.fps, maxFrames: v.maxFrames, frameSize: v.maxImageSize };
  }

  /** Chat messages for a request (system text, then the media placeholder and the prompt). */
  messages(req: Pick<DescribeRequest, 'system' | 'prompt'> & { media: 'image' | 'video' | 'none' }): ChatMessage[] {
    const msgs: ChatMessage[] = [];
    if (req.system) msgs.push({ role: 'system', content: [{ type: 'text', text: req.system }] });
    const content: ChatContent[] = [];
    if (req.media !== 'none') content.push({ type: req.media });
    content.push({ type: 'text', text: req.prompt });
    msgs.push({ role: 'user', content });
    return msgs;
  }

  private selectFrames(frames: VideoFrame[], req: DescribeRequest): VideoFrame[] {
    const { fps, maxFrames } = this.folder.processor.video;
    if (req.sampleAtProcessorFps && frames.length > 1) {
      const span = frames[frames.length - 1].timestamp - frames[0].timestamp;
      const videoFps = span > 0 ? (frames.length - 1) / span : 1;
      const duration = req.videoDuration ?? frames.length / videoFps;
      return sampleFrameIndices(frames.length, videoFps, { fps, maxFrames, duration }).map((i) => frames[i]);
    }
    if (frames.length <= maxFrames) return frames;
    return sampleFrameIndices(frames.length, 1, { fps: 1, maxFrames, duration: frames.length, skipSecs: 0 }).map((i) => frames[i]);
  }

  async describe(req: DescribeRequest, hooks: DescribeHooks = {}): Promise<DescribeResult> {
    const shouldStop = hooks.shouldStop ?? (() => false);
    const check = (): void => { if (shouldStop()) throw new CancelledError(); };
    check();
    const t0 = performance.now();
    let media: 'image' | 'video' | 'none' = 'none';
    if (req.frames && req.frames.length > 0) media = 'video';
    else if (req.image) media = 'image';
    const prompt = this.processor.applyChatTemplate(this.messages({ system: req.system, prompt: req.prompt, media }), true);
    let inputs;
    if (media === 'video') {
      const frames = this.selectFrames(req.frames!, req);
      const ts = frames.map((f) => f.timestamp);
      const first = ts[0], last = ts[ts.length - 1];
      const interval = ts.length > 1 ? (last - first) / (ts.length - 1) : 1;
      const duration = req.videoDuration ?? Math.max(0, last - first + interval);
      inputs = this.processor.process(prompt, { video: { frames: frames.map(toRgb), timestamps: ts, duration } });
    } else if (media === 'image') {
      inputs = this.processor.process(prompt, { images: [toRgb(req.image!)] });
    } else {
      inputs = this.processor.process(prompt);
    }
    check();
    const t1 = performance.now();
    let features = null;
    if (inputs.pixelValues) {
      const px = fromTyped(inputs.pixelValues, [inputs.numImages, 3, inputs.height, inputs.width]);
      features = (await this.model.encodeImages(px, { patchMask: inputs.patchMask, between: check })).features;
    }
    const embeds = this.model.embedInputs(inputs.inputIds, features);
    const t2 = performance.now();
    const stopAtEou = req.stopAtEndOfUtterance ?? true;
    const stopIds = new Set<number>();
    if (stopAtEou) {
      for (const id of this.folder.generation.eosTokenIds) stopIds.add(id);
      const eou = this.processor.tokenizer.tokenToId(this.folder.specialTokens.endOfUtterance);
      if (eou !== undefined) stopIds.add(eou);
    }
    const tokensSoFar: number[] = [];
    const gen = await generate(this.model, embeds, {
      maxTokens: req.maxTokens ?? 256,
      temperature: req.temperature ?? 0,
      seed: req.seed,
      stopTokenIds: [...stopIds],
      shouldStop,
      onToken: hooks.onToken
        ? (id) => { tokensSoFar.push(id); hooks.onToken!(id, this.processor.tokenizer.decode(tokensSoFar, true)); }
        : undefined,
    });
    if (gen.stopReason === 'cancelled') throw new CancelledError();
    const t3 = performance.now();
    const text = this.processor.tokenizer.decode(gen.tokens, true).trim();
    const later = Math.max(0, gen.tokens.length - 1);
    return {
      text,
      tokens: gen.tokens,
      promptTokens: inputs.inputIds.length,
      numImages: inputs.numImages,
      stopReason: gen.stopReason,
      timings: {
        preprocessMs: t1 - t0,
        visionMs: t2 - t1,
        prefillMs: gen.prefillMs,
        decodeMs: gen.decodeMs,
        totalMs: t3 - t0,
        decodeTokensPerSecond: gen.decodeMs > 0 ? later / (gen.decodeMs / 1000) : 0,
      },
    };
  }
}
