// Speed of the native signal engine: seconds of video analysed per second of wall time, on
// generated x264 clips (testsrc2 + tone), for both analysis types. CPU time (all threads of
// the process) is printed too, because wall time depends on what else the machine is doing.
//
//   node dist/bench/engine.js [--seconds 60] [--sizes 1920x1080,854x480] [--runs 2] [--json]
//
// benchEngine() is exported for a benchmark suite; run() is the suite's entry, which adds two
// baselines per clip: ffmpeg decoding alone (`ffmpeg -i … -f null -`, the ceiling) and the
// usual Node approach, `ffmpeg -vf fps=…,scale=…` piping raw gray frames into Node at the same
// sampling as the engine (4 frames/s for highlights, 10 for workout, 160 px longest side).
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSignalEngine } from '../src/engine/index.js';
import type { AnalysisRequest } from '../src/engine/types.js';
import type { BenchOptions, Row } from './report.js';
import { testClip } from './util.js';

export interface EngineBenchOptions {
  seconds?: number;
  sizes?: [number, number][];
  runs?: number;
  log?: (line: string) => void;
}

export interface EngineBenchRow {
  size: string;
  type: 'highlights' | 'workout';
  videoSeconds: number;
  wallSeconds: number;
  cpuSeconds: number;
  realtimeFactor: number;
}

const clip = testClip;

export async function benchEngine(opts: EngineBenchOptions = {}): Promise<EngineBenchRow[]> {
  const { seconds = 60, runs = 2, log = console.log } = opts;
  const sizes = opts.sizes ?? [
    [1920, 1080],
    [854, 480],
  ];
  const engine = createSignalEngine();
  const rows: EngineBenchRow[] = [];
  log(`machine: ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  try {
    for (const [w, h] of sizes) {
      const file = await clip(seconds, w, h);
      for (const type of ['highlights', 'workout'] as const) {
        const request: AnalysisRequest =
          type === 'highlights'
            ? { type, file, params: { min_significance: 6, max_highlights: 10 } }
            : { type, file, params: { segment_duration: 15 } };
        let best: EngineBenchRow | null = null;
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          const c0 = process.cpuUsage();
          const result = await engine.analyze(request).result;
          const wall = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(c0);
          const row: EngineBenchRow = {
            size: `${w}x${h}`,
            type,
            videoSeconds: result.video.duration,
            wallSeconds: wall,
            cpuSeconds: (cpu.user + cpu.system) / 1e6,
            realtimeFactor: result.video.duration / wall,
          };
          if (!best || row.wallSeconds < best.wallSeconds) best = row;
        }
        rows.push(best!);
        log(
          `${best!.size} ${type.padEnd(10)} ${best!.videoSeconds.toFixed(0)} s of video in ${best!.wallSeconds.toFixed(2)} s ` +
            `→ ${best!.realtimeFactor.toFixed(1)}x realtime (cpu ${best!.cpuSeconds.toFixed(2)} s)`,
        );
      }
    }
  } finally {
    await engine.close();
  }
  return rows;
}

/** Runs ffmpeg with `args`, reading its stdout through `onData`; resolves with the wall time in seconds. */
function timedFfmpeg(args: string[], onData?: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args], { stdio: ['ignore', onData ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    if (onData) p.stdout!.on('data', onData);
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`ffmpeg exited ${code}: ${err}`))));
  });
}

/** ffmpeg decoding alone, audio and video, to the null muxer. */
export function decodeOnly(file: string): Promise<number> {
  return timedFfmpeg(['-i', file, '-f', 'null', '-']);
}

/**
 * What most Node projects do: ffmpeg samples and scales, Node reads raw gray frames from the
 * pipe and computes a per-frame motion figure (mean absolute difference to the previous frame).
 */
export async function ffmpegPipe(file: string, fps: number, w: number, h: number): Promise<{ seconds: number; frames: number }> {
  const tw = w >= h ? 160 : Math.round((160 * w) / h / 2) * 2;
  const th = w >= h ? Math.round((160 * h) / w / 2) * 2 : 160;
  const frameBytes = tw * th;
  let pending: Buffer = Buffer.alloc(0);
  let prev: Buffer | null = null;
  let frames = 0;
  let motion = 0;
  const seconds = await timedFfmpeg(['-i', file, '-an', '-vf', `fps=${fps},scale=${tw}:${th}`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= frameBytes) {
      const f = Buffer.from(pending.subarray(0, frameBytes));
      pending = pending.subarray(frameBytes);
      if (prev) {
        let d = 0;
        for (let i = 0; i < frameBytes; i++) d += Math.abs(f[i] - prev[i]);
        motion += d / frameBytes;
      }
      prev = f;
      frames++;
    }
  });
  if (frames === 0 || !Number.isFinite(motion)) throw new Error(`ffmpeg pipe produced no frames for ${file}`);
  return { seconds, frames };
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const seconds = quick ? 20 : 120;
  const sizes: [number, number][] = [
    [1920, 1080],
    [854, 480],
  ];
  const engineRows = await benchEngine({ seconds, sizes, runs: quick ? 1 : 2, log });
  const rows: Row[] = [];
  for (const [w, h] of sizes) {
    const file = await clip(seconds, w, h);
    const size = `${w}x${h}`;
    const decode = seconds / Math.min(await decodeOnly(file), quick ? Infinity : await decodeOnly(file));
    log(`${size} ffmpeg decode only: ${decode.toFixed(1)}x realtime`);
    for (const r of engineRows.filter((x) => x.size === size)) {
      const fps = r.type === 'highlights' ? 4 : 10;
      const a = await ffmpegPipe(file, fps, w, h);
      const b = quick ? a : await ffmpegPipe(file, fps, w, h);
      const pipe = seconds / Math.min(a.seconds, b.seconds);
      log(`${size} ${r.type} ffmpeg -vf fps=${fps},scale pipe into Node: ${pipe.toFixed(1)}x realtime (${a.frames} frames)`);
      const metric = `${r.type} ${h}p ${seconds} s clip`;
      const first = rows.length === 0;
      const note = `engine cpu ${r.cpuSeconds.toFixed(1)} s for ${r.wallSeconds.toFixed(1)} s wall${first ? '; the engine skips the deblocking filter and non-reference frames (skip_frame=NONREF), ffmpeg decodes everything, audio included' : ''}`;
      rows.push(
        { bench: 'engine', metric, unit: 'video s / s', value: r.realtimeFactor, baseline: 'ffmpeg -i … -f null - (decode only, ceiling)', baselineValue: decode, better: 'higher', note },
        { bench: 'engine', metric, unit: 'video s / s', value: r.realtimeFactor, baseline: `ffmpeg -vf fps=${fps},scale=160 → Node pipe (peer)`, baselineValue: pipe, better: 'higher' },
      );
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const sizes = arg('--sizes')
    ?.split(',')
    .map((s) => s.split('x').map(Number) as [number, number]);
  const json = args.includes('--json');
  const rows = await benchEngine({
    seconds: Number(arg('--seconds') ?? 60),
    runs: Number(arg('--runs') ?? 2),
    sizes,
    log: json ? () => {} : console.log,
  });
  if (json) console.log(JSON.stringify(rows, null, 2));
}
