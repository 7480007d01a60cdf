// Speed of the native signal engine: seconds of video analysed per second of wall time, on
// generated x264 clips (testsrc2 + tone), for both analysis types. CPU time (all threads of
// the process) is printed too, because wall time depends on what else the machine is doing.
//
//   node dist/bench/engine.js [--seconds 60] [--sizes 1920x1080,854x480] [--runs 2] [--json]
//
// benchEngine() is exported for a benchmark suite; run() is the suite's entry, which sets each
// figure next to ffmpeg decoding the video as the engine does (non-reference frames and the
// deblocking filter skipped: the ceiling), ffmpeg decoding keyframes only (the bound of any
// frame-based engine), and the usual Node approach, `ffmpeg -vf fps=…,scale=…` piping raw gray
// frames into Node at the same sampling as the engine (4 frames/s for highlights, 10 for
// workout, 160 px longest side); and the cores the engine used against the ceiling's.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSignalEngine } from '../src/engine/index.js';
import type { AnalysisRequest, Engine } from '../src/engine/types.js';
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

/** One analysis of `file` by `engine`, timed (wall and CPU of this whole process). */
export async function analyzeOnce(engine: Engine, file: string, type: 'highlights' | 'workout'): Promise<Omit<EngineBenchRow, 'size'>> {
  const request: AnalysisRequest =
    type === 'highlights'
      ? { type, file, params: { min_significance: 6, max_highlights: 10 } }
      : { type, file, params: { segment_duration: 15 } };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const result = await engine.analyze(request).result;
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { type, videoSeconds: result.video.duration, wallSeconds: wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, realtimeFactor: result.video.duration / wall };
}

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
        let best: EngineBenchRow | null = null;
        for (let i = 0; i < runs; i++) {
          const row: EngineBenchRow = { size: `${w}x${h}`, ...(await analyzeOnce(engine, file, type)) };
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

interface Timed {
  seconds: number;
  /** CPU seconds of ffmpeg (all its threads). */
  cpuSeconds: number;
}

/**
 * Runs ffmpeg with `args` (through bash, whose `times` reports the child's CPU time), reading
 * its stdout through `onData`.
 */
function timedFfmpeg(args: string[], onData?: (chunk: Buffer) => void): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const script = 'ffmpeg -hide_banner -loglevel error -nostdin "$@" || exit $?; times >&2';
    const p = spawn('bash', ['-c', script, 'bash', ...args], { stdio: ['ignore', onData ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    if (onData) p.stdout!.on('data', onData);
    p.on('error', reject);
    p.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      // the second line of `times`: user and system time of the shell's children
      const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`ffmpeg exited ${code}: ${err}`));
      resolve({ seconds, cpuSeconds: Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) });
    });
  });
}

/**
 * ffmpeg decoding the video as the engine does: non-reference frames and the deblocking filter
 * skipped (the ceiling), or keyframes only (what no frame-based engine can beat).
 */
export function ffmpegDecode(file: string, skip: 'noref' | 'nokey', threads: number): Promise<Timed> {
  return timedFfmpeg(['-skip_frame', skip, '-skip_loop_filter', 'all', '-threads', String(threads), '-i', file, '-an', '-f', 'null', '-']);
}

/**
 * What most Node projects do: ffmpeg samples and scales, Node reads raw gray frames from the
 * pipe and computes a per-frame motion figure (mean absolute difference to the previous frame).
 */
export async function ffmpegPipe(file: string, fps: number, w: number, h: number): Promise<Timed & { frames: number }> {
  const tw = w >= h ? 160 : Math.round((160 * w) / h / 2) * 2;
  const th = w >= h ? Math.round((160 * h) / w / 2) * 2 : 160;
  const frameBytes = tw * th;
  let pending: Buffer = Buffer.alloc(0);
  let prev: Buffer | null = null;
  let frames = 0;
  let motion = 0;
  const t = await timedFfmpeg(['-i', file, '-an', '-vf', `fps=${fps},scale=${tw}:${th}`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], (chunk) => {
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
  return { ...t, frames };
}

/** Keeps, per name, the fastest of the rounds. */
class Best<T extends { seconds: number }> {
  private readonly m = new Map<string, T>();
  add(name: string, r: T): void {
    if (r.seconds < (this.m.get(name)?.seconds ?? Infinity)) this.m.set(name, r);
  }
  get(name: string): T {
    return this.m.get(name)!;
  }
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const seconds = quick ? 20 : 120;
  const rounds = quick ? 1 : 2;
  const sizes: [number, number][] = [
    [1920, 1080],
    [854, 480],
  ];
  const types = ['highlights', 'workout'] as const;
  const sampleFps = { highlights: 4, workout: 10 };
  // the engine's decoder: 2 cores (SignalEngineOptions.decoderThreads), 3 frame threads per core
  const cores = 2;
  const ceilingThreads = [cores, 3 * cores];
  const engine = createSignalEngine();
  const rows: Row[] = [];
  log(`machine: ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  try {
    for (const [w, h] of sizes) {
      const file = await clip(seconds, w, h);
      const best = new Best<Timed & { frames?: number }>();
      // Interleaved rounds, fastest per contender: the machine is shared, and whatever else
      // runs would otherwise favour whichever contender ran in a quiet moment.
      for (let round = 0; round < rounds; round++) {
        for (const type of types) {
          const r = await analyzeOnce(engine, file, type);
          best.add(type, { seconds: r.wallSeconds, cpuSeconds: r.cpuSeconds });
        }
        for (const n of ceilingThreads) best.add(`noref ${n}`, await ffmpegDecode(file, 'noref', n));
        best.add('nokey', await ffmpegDecode(file, 'nokey', cores));
        for (const type of types) best.add(`pipe ${type}`, await ffmpegPipe(file, sampleFps[type], w, h));
      }
      const ceilingN = ceilingThreads.reduce((a, b) => (best.get(`noref ${a}`).seconds <= best.get(`noref ${b}`).seconds ? a : b));
      const ceiling = best.get(`noref ${ceilingN}`);
      const floor = best.get('nokey');
      const speed = (t: Timed) => seconds / t.seconds;
      const usage = (t: Timed) => `${t.cpuSeconds.toFixed(1)} s cpu / ${t.seconds.toFixed(1)} s wall = ${(t.cpuSeconds / t.seconds).toFixed(2)} cores`;
      log(`${w}x${h} ffmpeg -skip_frame noref -skip_loop_filter all: ${ceilingThreads.map((n) => `-threads ${n} ${speed(best.get(`noref ${n}`)).toFixed(1)}x`).join(', ')} (${usage(ceiling)})`);
      log(`${w}x${h} ffmpeg -skip_frame nokey: ${speed(floor).toFixed(1)}x realtime`);
      const ceilingName = `ffmpeg -skip_frame noref -skip_loop_filter all -threads ${ceilingN} -an (ceiling)`;
      for (const type of types) {
        const ours = best.get(type);
        const pipe = best.get(`pipe ${type}`);
        log(`${w}x${h} ${type.padEnd(10)} ours ${speed(ours).toFixed(1)}x realtime (${usage(ours)}); ffmpeg -vf fps=${sampleFps[type]},scale pipe into Node ${speed(pipe).toFixed(1)}x (${pipe.frames} frames)`);
        const metric = `${type} ${h}p ${seconds} s clip`;
        rows.push(
          {
            bench: 'engine', metric, unit: 'video s / s', value: speed(ours), baseline: ceilingName, baselineValue: speed(ceiling), better: 'higher',
            note: `ours ${usage(ours)}; ceiling ${usage(ceiling)}; best of ${rounds} interleaved round${rounds > 1 ? 's' : ''}, -threads ${ceilingThreads.join(' and ')} tried for the ceiling`,
          },
          { bench: 'engine', metric, unit: 'video s / s', value: speed(ours), baseline: `ffmpeg -skip_frame nokey (keyframes only: bound of any frame-based engine)`, baselineValue: speed(floor), better: 'higher' },
          { bench: 'engine', metric, unit: 'video s / s', value: speed(ours), baseline: `ffmpeg -vf fps=${sampleFps[type]},scale=160 → Node pipe (peer)`, baselineValue: speed(pipe), better: 'higher' },
        );
        if (type === 'highlights') {
          rows.push({ bench: 'engine', metric: `cores used, ${metric}`, unit: 'cpu s / wall s', value: ours.cpuSeconds / ours.seconds, baseline: ceilingName, baselineValue: ceiling.cpuSeconds / ceiling.seconds, better: 'higher' });
        }
      }
    }
  } finally {
    await engine.close();
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
