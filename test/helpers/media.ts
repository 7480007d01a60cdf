// Test media generated with the ffmpeg CLI (lavfi sources), plus access to the shared real
// clips. Everything is deterministic, so the expected answers are known by construction.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs ffmpeg quietly; throws with its stderr on failure. */
export async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ffmpeg failed: ${e.stderr || e.message}`);
  }
}

export interface TestVideoOptions {
  seconds?: number;
  width?: number;
  height?: number;
  fps?: number;
  audio?: boolean;
  /** File name inside dir (default derived from the options); the extension picks the container. */
  name?: string;
  /** x264 preset (default ultrafast: quick to generate). */
  preset?: string;
  /** Display rotation written into the container (clockwise degrees: 90, 180, 270). */
  rotation?: number;
}

/** A plain testsrc2 clip (H.264, AAC 440 Hz tone when audio), returns its path. */
export async function makeTestVideo(dir: string, opts: TestVideoOptions = {}): Promise<string> {
  const { seconds = 5, width = 320, height = 240, fps = 25, audio = true, preset = 'ultrafast' } = opts;
  const name = opts.name ?? `test_${seconds}s_${width}x${height}_${fps}${audio ? '_a' : ''}${opts.rotation ? `_r${opts.rotation}` : ''}.mp4`;
  const path = join(dir, name);
  const args = ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`];
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`);
  args.push('-c:v', 'libx264', '-preset', preset, '-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', 'aac', '-b:a', '96k');
  args.push('-t', String(seconds), opts.rotation ? `${path}.tmp.mp4` : path);
  await ffmpeg(args);
  if (opts.rotation) {
    // ffmpeg 5.1 only turns the legacy "rotate" tag into a display matrix when stream-copying.
    await ffmpeg(['-i', `${path}.tmp.mp4`, '-c', 'copy', '-metadata:s:v:0', `rotate=${opts.rotation}`, path]);
    await rm(`${path}.tmp.mp4`, { force: true });
  }
  return path;
}

export interface Span {
  start: number;
  end: number;
}

export interface HighlightsVideo {
  path: string;
  duration: number;
  /** Bursts of fast motion + hard cuts + loud audio; the rest is a calm, quiet scene. */
  bursts: Span[];
  /** Hard cuts inside the bursts (times in seconds). */
  cuts: number[];
}

/**
 * 30 s, 480x270: a calm dark scene with a slowly drifting box and quiet pink noise, with two
 * 3-second bursts (9–12 s and 21–24 s) of fast-moving boxes, full-frame scene changes and loud
 * audio. With the default segmentation (3 s) each burst is exactly one segment.
 */
export async function makeHighlightsVideo(dir: string, name = 'highlights.mp4'): Promise<HighlightsVideo> {
  const duration = 30;
  const bursts: Span[] = [
    { start: 9, end: 12 },
    { start: 21, end: 24 },
  ];
  const inBurst = bursts.map((b) => `between(t,${b.start},${b.end - 0.04})`).join('+');
  const sceneA = [
    [9.6, 10.4],
    [22.0, 22.8],
  ];
  const sceneB = [
    [10.9, 11.5],
    [23.2, 23.7],
  ];
  const enable = (spans: number[][]) => spans.map(([a, b]) => `between(t,${a},${b})`).join('+');
  const cuts = [...sceneA, ...sceneB].flat().sort((a, b) => a - b);
  // drawbox can't move boxes over time; overlay evaluates its position per frame.
  const d = `r=25:d=${duration}`;
  const video = [
    `color=c=0x203040:s=480x270:${d},` +
      `drawbox=x=0:y=0:w=iw:h=ih:color=0xD0B020:t=fill:enable='${enable(sceneA)}',` +
      `drawbox=x=0:y=0:w=iw:h=ih:color=0x30A050:t=fill:enable='${enable(sceneB)}'[bg0]`,
    `color=c=0x707070:s=40x40:${d}[calm]`,
    `color=c=white:s=80x80:${d}[fast1]`,
    `color=c=0xC03030:s=70x70:${d}[fast2]`,
    `[bg0][calm]overlay=x='20+t*3':y=110[bg1]`,
    `[bg1][fast1]overlay=x='mod(t*1400,400)':y='mod(t*900,190)':enable='${inBurst}'[bg2]`,
    `[bg2][fast2]overlay=x='400-mod(t*1100,400)':y='190-mod(t*700,190)':enable='${inBurst}',noise=alls=3:allf=t[out0]`,
  ].join(';');
  const audio = `anoisesrc=color=pink:amplitude=0.02:sample_rate=44100:duration=${duration}:seed=7,volume=eval=frame:volume='if(${inBurst},20,1)'`;
  const path = join(dir, name);
  await ffmpeg([
    '-f', 'lavfi', '-i', video,
    '-f', 'lavfi', '-i', audio,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-t', String(duration), path,
  ]);
  return { path, duration, bursts, cuts };
}

export interface WorkoutSet extends Span {
  reps: number;
  period: number;
}

export interface WorkoutVideo {
  path: string;
  duration: number;
  sets: WorkoutSet[];
  totalReps: number;
}

export interface WorkoutVideoOptions {
  name?: string;
  /** Sets in time order: start (s), reps, seconds per rep. Default: 10 × 2 s at 2 s, 8 × 2.5 s at 30 s. */
  sets?: { start: number; reps: number; period: number }[];
  duration?: number;
  width?: number;
  height?: number;
  fps?: number;
}

/**
 * A bright box moving smoothly up and down (start at the top, down, back up = one rep) on a
 * noisy gray background, still between sets. Default: 55 s, 320x240, 30 fps, 10 reps of 2 s
 * (2–22 s), rest, 8 reps of 2.5 s (30–50 s), rest until the end.
 */
export async function makeWorkoutVideo(dir: string, opts: WorkoutVideoOptions | string = {}): Promise<WorkoutVideo> {
  const o = typeof opts === 'string' ? { name: opts } : opts;
  const { name = 'workout.mp4', width = 320, height = 240, fps = 30 } = o;
  const sets: WorkoutSet[] = (o.sets ?? [
    { start: 2, reps: 10, period: 2 },
    { start: 30, reps: 8, period: 2.5 },
  ]).map((s) => ({ ...s, end: s.start + s.reps * s.period }));
  const duration = o.duration ?? 55;
  const box = Math.round(height / 4);
  const top = Math.round(height / 8);
  const half = Math.round((height - box - 2 * top) / 2); // amplitude / 2 in pixels
  let y = String(top);
  for (const s of [...sets].reverse()) {
    y = `if(between(t,${s.start},${s.end}),${top}+${half}*(1-cos(2*PI*(t-${s.start})/${s.period})),${y})`;
  }
  const d = `r=${fps}:d=${duration}`;
  const video = [
    `color=c=0x505050:s=${width}x${height}:${d},drawbox=x=${Math.round(width / 8)}:y=${Math.round(height / 12)}:w=${Math.round(width / 6)}:h=${Math.round((height * 5) / 6)}:color=0x606060:t=fill[bg]`,
    `color=c=0xE0E0E0:s=${box}x${box}:${d}[box]`,
    `[bg][box]overlay=x=${Math.round(width / 2 - box / 2)}:y='${y}',noise=alls=4:allf=t[out0]`,
  ].join(';');
  const path = join(dir, name);
  await ffmpeg(['-f', 'lavfi', '-i', video, '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-t', String(duration), path]);
  return { path, duration, sets, totalReps: sets.reduce((n, s) => n + s.reps, 0) };
}

/** An audio-only file (AAC in MP4). */
export async function makeAudioOnly(dir: string, name = 'audio_only.m4a'): Promise<string> {
  const path = join(dir, name);
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=330:duration=3', '-c:a', 'aac', path]);
  return path;
}

/** Repository root (works from src and from dist). */
export function repoRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

/** ../shared/media relative to the repo root, or null when absent. */
export function sharedMediaDir(): string | null {
  const dir = resolve(repoRoot(), '..', 'shared', 'media');
  return existsSync(join(dir, 'MANIFEST.tsv')) ? dir : null;
}

export interface ManifestEntry {
  filename: string;
  path: string;
  description: string;
  /** edge_* files: malformed or unusual on purpose. */
  edge: boolean;
}

export function readManifest(dir: string): ManifestEntry[] {
  const lines = readFileSync(join(dir, 'MANIFEST.tsv'), 'utf8').split('\n').filter((l) => l.trim());
  const header = lines[0].split('\t');
  const fi = header.indexOf('filename');
  const di = header.indexOf('description');
  return lines.slice(1).map((line) => {
    const cols = line.split('\t');
    const filename = cols[fi];
    return { filename, path: join(dir, filename), description: cols[di] ?? '', edge: filename.startsWith('edge_') };
  });
}
