// The suite's entry for SmolVLM2 at the 256M dimensions (random weights): calls
// benchSmolVLM() of bench/smolvlm.ts and sets each figure next to its bound from the same run
// (FLOPs at the best measured matmul rate; decoding also against reading every weight once per
// token at the measured memory bandwidth; the fastest of 2 segments per stage), the peak resident memory of a segment, and where the
// vision encoder's and the prefill's time goes (matmuls, attention, GELU / SwiGLU, norms), each
// part next to its own bound. --quick: 1 frame, 4 tokens.
import type { BenchOptions, Row } from './report.js';
import { benchSmolVLM } from './smolvlm.js';

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const frames = quick ? 1 : 8;
  const tokens = quick ? 4 : 32;
  const r = await benchSmolVLM({ frames, decodeTokens: tokens, runs: quick ? 1 : 2, log });
  const s = r.segment;
  const b = r.bounds;
  const seg = `${frames} frame${frames > 1 ? 's' : ''} ${s.imageSize}px, ${s.promptTokens} prompt + ${tokens} new tokens`;
  log(`segment ${s.totalMs.toFixed(0)} ms (bound ${b.segmentMs.toFixed(0)}), decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s (FLOP bound ${b.decodeTokensPerSecondFlop.toFixed(0)}, memory bound ${b.decodeTokensPerSecondMemory.toFixed(1)})`);
  const roof = `peak matmul ${r.peakGflops.toFixed(0)} GFLOP/s, memory ${r.memoryGBps.toFixed(1)} GB/s (measured)`;
  const MiB = 2 ** 20;
  const parts = (stage: 'vision' | 'prefill', label: string): Row[] => {
    const all = r.breakdown[stage];
    const total = all.reduce((a, p) => a + p.ms, 0);
    const share = (ms: number) => `${((100 * ms) / total).toFixed(0)}%`;
    const rest = all.find((p) => p.bound === null)!;
    return all
      .filter((p) => p.bound !== null)
      .map((p, i) => ({
        bench: 'smolvlm', metric: `${label}: ${p.name}, ${share(p.ms)} of the time`, unit: 'ms', value: p.ms,
        baseline: p.bound === 'FLOP' ? 'FLOP bound' : 'memory bound (one read and write pass)', baselineValue: p.boundMs, better: 'lower' as const,
        ...(i === 0 ? { note: `each kind of operation timed alone at the stage's shapes, all layers; the remaining ${share(rest.ms)} (${rest.ms.toFixed(0)} ms) are residual adds, reshapes that copy, position embeddings, evaluation and memory reclaiming` } : {}),
      }));
  };
  return [
    { bench: 'smolvlm', metric: `time per segment (${seg})`, unit: 'ms', value: s.totalMs, baseline: 'FLOP/memory bound', baselineValue: b.segmentMs, better: 'lower', note: `random weights at SmolVLM2-256M dims; ${roof}` },
    { bench: 'smolvlm', metric: 'vision encoder per frame', unit: 'ms', value: s.visionMsPerFrame, baseline: 'FLOP bound', baselineValue: b.visionMsPerFrame, better: 'lower' },
    { bench: 'smolvlm', metric: `prefill (${s.promptTokens} tokens)`, unit: 'ms', value: s.prefillMs, baseline: 'FLOP bound', baselineValue: b.prefillMs, better: 'lower' },
    { bench: 'smolvlm', metric: 'decode', unit: 'tokens/s', value: s.decodeTokensPerSecond, baseline: 'FLOP bound', baselineValue: b.decodeTokensPerSecondFlop, better: 'higher' },
    { bench: 'smolvlm', metric: 'decode', unit: 'tokens/s', value: s.decodeTokensPerSecond, baseline: 'memory bound (f32 weights once per token)', baselineValue: b.decodeTokensPerSecondMemory, better: 'higher' },
    {
      bench: 'smolvlm', metric: 'peak resident memory during a segment', unit: 'MiB', value: r.memory.peakSegment / MiB, baseline: 'resident before it (model loaded)', baselineValue: r.memory.beforeSegment / MiB, better: 'lower',
      note: `VmHWM reset before the segment; f32 weights ${(r.memory.weights / MiB).toFixed(0)} MiB`,
    },
    ...parts('vision', 'vision per frame'),
    ...parts('prefill', `prefill (${s.promptTokens} tokens)`),
  ];
}
