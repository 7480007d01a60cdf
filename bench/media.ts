// Media: cutting clips and reels (native cutSpans), and what the thumbnails and storyboard
// cost the analysis pass. Each figure stands next to a baseline from the same run:
//   - a frame-accurate clip (re-encoded) against real time, against a stream copy of a span
//     as long (the floor: no decoding at all), and against the ffmpeg CLI making the same
//     accurate cut (-ss before -i, libx264 veryfast, AAC: the usual way, process start included);
//   - a reel of five spans against real time;
//   - the highlights analysis with thumbnails + storyboard against the same analysis without.
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSignalEngine, cutSpans } from '../src/engine/index.js';
import type { AnalysisRequest } from '../src/engine/types.js';
import type { BenchOptions, Row } from './report.js';
import { ffmpeg, mediaDir, tempDir, testClip } from './util.js';

const exec = promisify(execFile);

/** Fastest of `runs` timings of fn, in seconds. */
async function best(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, (performance.now() - t0) / 1000);
  }
  return min;
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const [w, h] = quick ? [854, 480] : [1280, 720];
  const seconds = quick ? 20 : 60;
  const runs = quick ? 1 : 3;
  const size = `${w}x${h}`;
  const tmp = tempDir('vas-bench-media-');
  const rows: Row[] = [];
  try {
    // Same picture as the engine bench, re-encoded with a keyframe every second and no B-frames,
    // so that a span starting on a second can be stream-copied.
    const source = await testClip(seconds, w, h);
    const clip = join(mediaDir(), `testsrc2_${size}_${seconds}s_g30.mp4`);
    if (!existsSync(clip)) await ffmpeg(['-i', source, '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', '30', '-c:a', 'copy', clip]);
    const span = 3;
    const out = (name: string) => join(tmp, name);

    const copy = await best(runs, async () => {
      const r = await cutSpans(clip, out('copy.mp4'), [[10, 10 + span]]);
      if (!r.copied) throw new Error('the keyframe-aligned span was not stream-copied');
    });
    const accurate = await best(runs, async () => {
      const r = await cutSpans(clip, out('cut.mp4'), [[10.4, 10.4 + span]]);
      if (r.copied) throw new Error('the unaligned span was stream-copied');
    });
    const cli = await best(runs, () =>
      exec('ffmpeg', ['-v', 'error', '-y', '-ss', '10.4', '-i', clip, '-t', String(span), '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '21', '-bf', '0', '-c:a', 'aac', out('cli.mp4')]),
    );
    const metric = `3 s clip, frame-accurate (re-encoded), ${size}`;
    log(`${metric}: ${accurate.toFixed(3)} s; stream copy ${copy.toFixed(3)} s; ffmpeg CLI ${cli.toFixed(3)} s`);
    rows.push(
      { bench: 'media', metric, unit: 'video s / s', value: span / accurate, baseline: 'real time', baselineValue: 1, better: 'higher' },
      { bench: 'media', metric, unit: 'video s / s', value: span / accurate, baseline: 'stream copy of a keyframe-aligned 3 s span (cutSpans; floor)', baselineValue: span / copy, better: 'higher' },
      { bench: 'media', metric, unit: 'video s / s', value: span / accurate, baseline: 'ffmpeg CLI, same accurate cut (-ss, libx264 veryfast, AAC; peer)', baselineValue: span / cli, better: 'higher' },
    );

    const spans: Array<[number, number]> = [[1.2, 4.2], [5.5, 8.5], [9.1, 12.1], [13.7, 16.7], [16.7, 19.7]];
    const reel = await best(runs, () => cutSpans(source, out('reel.mp4'), spans));
    const reelSeconds = spans.reduce((n, [a, b]) => n + b - a, 0);
    log(`reel of ${spans.length} spans (${reelSeconds} s): ${reel.toFixed(3)} s`);
    rows.push({ bench: 'media', metric: `reel of 5 spans (15 s), ${size}`, unit: 'video s / s', value: reelSeconds / reel, baseline: 'real time', baselineValue: 1, better: 'higher' });

    const engine = createSignalEngine();
    try {
      const analyse = (media: boolean) => {
        const request: AnalysisRequest = {
          type: 'highlights',
          file: source,
          params: { min_significance: 6, max_highlights: 10 },
          ...(media && { media: { thumbnailFile: out('thumb-{n}.jpg'), spriteFile: out('sprite-{n}.jpg'), storyboardFile: out('storyboard.json') } }),
        };
        return engine.analyze(request).result;
      };
      // Alternate the two so that a change in the machine's load hits both alike. CPU time (all
      // threads of this process) is kept too: on a shared machine it moves less than wall time.
      let plain = Infinity, withMedia = Infinity, plainCpu = Infinity, withMediaCpu = Infinity;
      const cpuOf = async (media: boolean) => {
        const c0 = process.cpuUsage();
        const wall = await best(1, () => analyse(media));
        const c = process.cpuUsage(c0);
        return { wall, cpu: (c.user + c.system) / 1e6 };
      };
      for (let i = 0; i < runs + 1; i++) {
        const a = await cpuOf(false);
        const b = await cpuOf(true);
        plain = Math.min(plain, a.wall);
        plainCpu = Math.min(plainCpu, a.cpu);
        withMedia = Math.min(withMedia, b.wall);
        withMediaCpu = Math.min(withMediaCpu, b.cpu);
      }
      log(`highlights analysis of ${seconds} s ${size}: ${plain.toFixed(2)} s plain, ${withMedia.toFixed(2)} s with thumbnails + storyboard`);
      rows.push({
        bench: 'media',
        metric: `highlights analysis with thumbnails + storyboard, ${size}`,
        unit: 'video s / s',
        value: seconds / withMedia,
        baseline: 'the same analysis without them',
        baselineValue: seconds / plain,
        better: 'higher',
      }, {
        bench: 'media',
        metric: `CPU of the highlights analysis with thumbnails + storyboard, ${size}`,
        unit: 'cpu s / video s',
        value: withMediaCpu / seconds,
        baseline: 'the same analysis without them',
        baselineValue: plainCpu / seconds,
        better: 'lower',
      });
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
