// Autoregressive decoding with a KV cache: one prefill pass over the prompt embeddings, then one
// token at a time. Greedy by default (temperature 0), temperature sampling otherwise.
import { mx, reclaim, type MxArray } from './mlx.js';
import type { SmolVLMModel } from './model.js';

export interface GenerateOptions {
  maxTokens: number;
  /** 0 (default) = greedy (argmax). */
  temperature?: number;
  /** Seed for sampling (temperature > 0). */
  seed?: number;
  /** Generation stops after emitting one of these. */
  stopTokenIds?: number[];
  /** Polled before each step; returning true stops with reason "cancelled". */
  shouldStop?: () => boolean;
  /** Called with each new token id as soon as it is known. */
  onToken?: (id: number) => void;
  /** Reclaim memory every this many tokens (default 16). */
  reclaimEvery?: number;
}

export type StopReason = 'eos' | 'length' | 'cancelled';

export interface GenerateResult {
  tokens: number[];
  stopReason: StopReason;
  /** Prompt pass up to the first token. */
  prefillMs: number;
  /** All later tokens. */
  decodeMs: number;
}

function pick(logits: MxArray, temperature: number): number {
  const last = logits.reshape([-1]);
  if (temperature > 0) {
    return mx.random.categorical(mx.multiply(last, 1 / temperature)).item() as number;
  }
  return mx.argmax(last).item() as number;
}

/** Generates from [1, L, H] prompt embeddings. */
export async function generate(model: SmolVLMModel, embeds: MxArray, opts: GenerateOptions): Promise<GenerateResult> {
  const temperature = opts.temperature ?? 0;
  if (temperature > 0 && opts.seed !== undefined) mx.random.seed(opts.seed);
  const stop = new Set(opts.stopTokenIds ?? []);
  const tokens: number[] = [];
  const cache = model.newCache();
  if (opts.maxTokens <= 0) return { tokens, stopReason: 'length', prefillMs: 0, decodeMs: 0 };
  if (opts.shouldStop?.()) return { tokens, stopReason: 'cancelled', prefillMs: 0, decodeMs: 0 };
  const t0 = performance.now();
  let logits = await model.prefill(embeds, cache, true);
  let next = pick(logits, temperature);
  await reclaim();
  const t1 = performance.now();
  const every = Math.max(1, opts.reclaimEvery ?? 16);
  tokens.push(next);
  opts.onToken?.(next);
  let stopReason: StopReason = 'length';
  if (stop.has(next)) stopReason = 'eos';
  while (stopReason === 'length' && tokens.length < opts.maxTokens) {
    if (opts.shouldStop?.()) { stopReason = 'cancelled'; break; }
    logits = model.forward(model.text.embed([next]), cache, true);
    next = pick(logits, temperature);
    if (tokens.length % every === 0) await reclaim();
    tokens.push(next);
    opts.onToken?.(next);
    if (stop.has(next)) stopReason = 'eos';
  }
  const t2 = performance.now();
  return { tokens, stopReason, prefillMs: t1 - t0, decodeMs: t2 - t1 };
}
