// Speed of the native signal engine: seconds of video analysed per second of wall time, on
// generated x264 clips (testsrc2 + tone), for both analysis types. CPU time (all threads of
// the process) is printed too, because wall time depends on what else the machine is doing.
//
//   node dist/bench/engine.js [--seconds 60] [--sizes 1920x1080,854x480] [--runs 2] [--json]
//
// benchEngine() is exported for a benchmark suite.
import { existsSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSignalEngine } from '../src/engine/index.js';
import type { AnalysisRequest } from '../src/engine/types.js';
import { ffmpeg } from '../test/helpers/media.js';

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

async function clip(seconds: number, w: number, h: number): Promise<string> {
  const dir = join(tmpdir(), 'engine-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `testsrc2_${w}x${h}_${seconds}s_x264.mp4`);
  if (!existsSync(path)) {
    await ffmpeg([
      '-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=30:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', `${path}.tmp.mp4`,
    ]);
    await import('node:fs/promises').then((fs) => fs.rename(`${path}.tmp.mp4`, path));
  }
  return path;
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
