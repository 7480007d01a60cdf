// The eval's labelled videos, generated with the ffmpeg CLI. Every label is derived from the
// same parameters that drive the generator (burst times, set starts and rep counts, camera
// moves), never from what the engine reports. Files are cached by a hash of their ffmpeg
// arguments, so a second run only analyses.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Span {
  start: number;
  end: number;
}

/** What a case should give, from the generator's parameters. */
export interface Labels {
  /** Spans where something worth a highlight happens; empty: nothing should be a highlight. */
  highlights: Span[];
  /** Camera movement the description should name ("pan", "zoom", "handheld", "fade"), if any. */
  camera?: 'pan' | 'zoom' | 'handheld' | 'fade';
  /** Workout sets in time order. */
  sets?: { start: number; end: number; reps: number }[];
  /** Warning codes the result must carry. */
  warnings?: string[];
}

export interface EvalCase {
  name: string;
  type: 'highlights' | 'workout';
  path: string;
  duration: number;
  labels: Labels;
  /** Generated here, or a real clip with hand-made labels. */
  source: 'generated' | 'shared';
}

const W = 640;
const H = 360;
const FPS = 25;

export function cacheDir(): string {
  const dir = join(process.env.TMPDIR ?? tmpdir(), 'vas-eval-media');
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ffmpeg failed: ${e.stderr || e.message}`);
  }
}

/** Runs ffmpeg into a cached file named after its arguments; returns the path. */
async function cached(name: string, args: (out: string) => string[], ext = 'mp4'): Promise<string> {
  const key = createHash('sha1').update(JSON.stringify(args('OUT'))).digest('hex').slice(0, 10);
  const path = join(cacheDir(), `${name}-${key}.${ext}`);
  if (existsSync(path)) return path;
  const tmp = `${path}.part.${ext}`;
  await ffmpeg(args(tmp));
  renameSync(tmp, path);
  return path;
}

const encode = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '50'];
const aac = ['-c:a', 'aac', '-b:a', '96k'];

/** A large textured still (blobs at a scale the 160 px analysis frames still see, plus grain). */
async function stillImage(): Promise<string> {
  return cached(
    'still',
    (out) => [
      '-f', 'lavfi', '-i', 'nullsrc=s=64x36,geq=lum=random(1)*255:cb=128:cr=128,scale=1920x1080:flags=bicubic,noise=alls=10:allf=0,gblur=sigma=1.5',
      '-frames:v', '1', out,
    ],
    'png',
  );
}

/** Quiet pink noise with a slow level drift: the sound of an empty room. */
const roomTone = (d: number, seed = 3) =>
  `anoisesrc=color=pink:amplitude=0.004:sample_rate=44100:duration=${d}:seed=${seed},volume=eval=frame:volume='1+0.5*sin(t*0.7)'`;

const between = (spans: Span[]) => spans.map((s) => `between(t,${s.start},${s.end - 0.04})`).join('+') || '0';

/** Fast-moving boxes over [bg] during spans, as filtergraph steps ending in [out]. */
function boxes(spans: Span[], bg: string, d: number): string[] {
  const on = between(spans);
  return [
    `color=c=white:s=90x90:r=${FPS}:d=${d}[b1]`,
    `color=c=0xC03030:s=70x70:r=${FPS}:d=${d}[b2]`,
    `[${bg}][b1]overlay=x='mod(t*900,${W - 90})':y='mod(t*600,${H - 90})':enable='${on}'[o1]`,
    `[o1][b2]overlay=x='${W - 70}-mod(t*700,${W - 70})':y='${H - 70}-mod(t*500,${H - 70})':enable='${on}'[out]`,
  ];
}

/** Camera over the still: crop position as functions of t (pixels of the 1920x1080 still). */
function cameraOverStill(d: number, x: string, y: string, scaleW = 1280): string {
  const scaleH = Math.round((scaleW * 9) / 16);
  return `[0:v]scale=1920x1080,crop=${scaleW}:${scaleH}:x='${x}':y='${y}',scale=${W}x${H},fps=${FPS},trim=duration=${d},setpts=PTS-STARTPTS[bg]`;
}

async function stillCamera(name: string, d: number, graph: string, audio = roomTone(d)): Promise<string> {
  const still = await stillImage();
  return cached(name, (out) => ['-loop', '1', '-framerate', String(FPS), '-i', still, '-f', 'lavfi', '-i', audio, '-filter_complex', graph, '-map', '[out]', '-map', '1:a', ...encode, ...aac, '-t', String(d), out]);
}

export async function generateCases(quick: boolean): Promise<EvalCase[]> {
  const cases: EvalCase[] = [];
  const add = (c: Omit<EvalCase, 'source'>) => cases.push({ ...c, source: 'generated' });
  const d = quick ? 12 : 20;

  // 1. Calm scene with bursts of fast objects, hard cuts and loud audio.
  {
    const bursts: Span[] = quick ? [{ start: 6, end: 9 }] : [{ start: 6, end: 9 }, { start: 14, end: 17 }];
    const cutsA = bursts.map((b) => ({ start: b.start + 0.6, end: b.start + 1.4 }));
    const graph = [
      `color=c=0x203040:s=${W}x${H}:r=${FPS}:d=${d},drawbox=x=0:y=0:w=iw:h=ih:color=0xD0B020:t=fill:enable='${between(cutsA)}',noise=alls=3:allf=t[bg]`,
      ...boxes(bursts, 'bg', d),
    ].join(';');
    const audio = `anoisesrc=color=pink:amplitude=0.02:sample_rate=44100:duration=${d}:seed=7,volume=eval=frame:volume='if(${between(bursts)},20,1)'`;
    const path = await cached('bursts_av', (out) => ['-f', 'lavfi', '-i', graph.replace(/\[out\]$/, ''), '-f', 'lavfi', '-i', audio, ...encode, ...aac, '-t', String(d), out]);
    add({ name: 'bursts with cuts and loud audio', type: 'highlights', path, duration: d, labels: { highlights: bursts } });
  }
  // 2. A burst of object motion only (no cuts, no sound change) over a still, textured scene.
  {
    const bursts: Span[] = [{ start: 5, end: 8 }];
    const graph = [cameraOverStill(d, '300', '200'), ...boxes(bursts, 'bg', d)].join(';');
    const path = await stillCamera('burst_silent', d, graph);
    add({ name: 'object burst, room tone', type: 'highlights', path, duration: d, labels: { highlights: bursts } });
  }
  // 3. Slow pan: the camera moves left over the still (the picture content moves right).
  {
    const graph = [cameraOverStill(d, `600-t*${Math.round(500 / d)}`, '150'), `[bg]null[out]`].join(';');
    const path = await stillCamera('pan_left', d, graph);
    add({ name: 'camera pans left over a still', type: 'highlights', path, duration: d, labels: { highlights: [], camera: 'pan' } });
  }
  // 4. Zoom in on the still (zoompan's first frames jump; they are dropped).
  {
    const graph = [`[0:v]scale=1920x1080,zoompan=z='1+0.5*on/(${d}*${FPS})':d=1:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=${W}x${H}:fps=${FPS},trim=start=0.2,setpts=PTS-STARTPTS,trim=duration=${d}[out]`].join(';');
    const path = await stillCamera('zoom_in', d, graph);
    add({ name: 'camera zooms in on a still', type: 'highlights', path, duration: d, labels: { highlights: [], camera: 'zoom' } });
  }
  // 5. Handheld shake over the still, nothing moving in the scene.
  const shakeX = '300+14*sin(t*11)+9*sin(t*23+1)+5*sin(t*37)';
  const shakeY = '200+10*sin(t*13+2)+7*sin(t*29)+4*sin(t*41+1)';
  {
    const graph = [cameraOverStill(d, shakeX, shakeY), `[bg]null[out]`].join(';');
    const path = await stillCamera('handheld', d, graph);
    add({ name: 'handheld shake, still scene', type: 'highlights', path, duration: d, labels: { highlights: [], camera: 'handheld' } });
  }
  // 6. Handheld shake with a burst of object motion.
  if (!quick) {
    const bursts: Span[] = [{ start: 9, end: 12 }];
    const graph = [cameraOverStill(d, shakeX, shakeY), ...boxes(bursts, 'bg', d)].join(';');
    const path = await stillCamera('handheld_burst', d, graph);
    add({ name: 'handheld shake + object burst', type: 'highlights', path, duration: d, labels: { highlights: bursts, camera: 'handheld' } });
  }
  // 7. Whip pan: still, a fast pan of 0.8 s, still.
  if (!quick) {
    const x = `if(lt(t,8),100,if(lt(t,8.8),100+(t-8)*600,580))`;
    const graph = [cameraOverStill(d, x, '200'), `[bg]null[out]`].join(';');
    const path = await stillCamera('whip_pan', d, graph);
    add({ name: 'whip pan between two stills', type: 'highlights', path, duration: d, labels: { highlights: [], camera: 'pan' } });
  }
  // 8. Fade in from black, hold, fade out.
  {
    const graph = [cameraOverStill(d, '300', '200'), `[bg]fade=t=in:st=0:d=3,fade=t=out:st=${d - 3}:d=3[out]`].join(';');
    const path = await stillCamera('fade', d, graph);
    add({ name: 'fade in and out of a still', type: 'highlights', path, duration: d, labels: { highlights: [], camera: 'fade' } });
  }
  // 9. A static screen (test card) with room tone.
  {
    const path = await cached('static_screen', (out) => [
      '-f', 'lavfi', '-i', `smptehdbars=s=${W}x${H}:r=${FPS}:d=${d},noise=alls=2:allf=t`,
      '-f', 'lavfi', '-i', roomTone(d, 5), ...encode, ...aac, '-t', String(d), out,
    ]);
    add({ name: 'static screen, room tone', type: 'highlights', path, duration: d, labels: { highlights: [] } });
  }
  // 10. Talking head: a face-sized blob sways a little, a mouth opens and closes, speech-like audio.
  {
    const graph = [
      `color=c=0x6a8a50:s=${W}x${H}:r=${FPS}:d=${d},noise=alls=3:allf=t[bg]`,
      `color=c=0xd0a080:s=160x200:r=${FPS}:d=${d}[face]`,
      `color=c=0x402020:s=50x20:r=${FPS}:d=${d}[mouth]`,
      `[bg][face]overlay=x='240+6*sin(t*1.3)':y='70+3*sin(t*0.9)'[f1]`,
      `[f1][mouth]overlay=x='295+6*sin(t*1.3)':y='215+3*sin(t*0.9)':enable='gt(sin(t*25),0)'[out]`,
    ].join(';');
    const speech = `anoisesrc=color=pink:amplitude=0.1:sample_rate=44100:duration=${d}:seed=11,volume=eval=frame:volume='0.15+0.85*abs(sin(t*7))*gt(sin(t*0.9),-0.6)',lowpass=f=3000`;
    const path = await cached('talking_head', (out) => ['-f', 'lavfi', '-i', graph.replace(/\[out\]$/, ''), '-f', 'lavfi', '-i', speech, ...encode, ...aac, '-t', String(d), out]);
    add({ name: 'talking head', type: 'highlights', path, duration: d, labels: { highlights: [] } });
  }
  // 11. Workout: two sets, the first starting right at the beginning.
  {
    const sets = quick
      ? [{ start: 0.2, reps: 6, period: 2 }, { start: 18, reps: 6, period: 1.6 }]
      : [{ start: 0.2, reps: 10, period: 2 }, { start: 30, reps: 12, period: 1.6 }];
    const total = quick ? 32 : 55;
    const box = 60;
    const top = 45;
    const half = Math.round((240 - box - 2 * top) / 2);
    let y = String(top);
    for (const s of [...sets].reverse()) {
      const end = s.start + s.reps * s.period;
      y = `if(between(t,${s.start},${end}),${top}+${half}*(1-cos(2*PI*(t-${s.start})/${s.period})),${y})`;
    }
    const graph = [
      `color=c=0x505050:s=320x240:r=30:d=${total},drawbox=x=40:y=20:w=53:h=200:color=0x606060:t=fill[bg]`,
      `color=c=0xE0E0E0:s=${box}x${box}:r=30:d=${total}[box]`,
      `[bg][box]overlay=x=130:y='${y}',noise=alls=4:allf=t`,
    ].join(';');
    const path = await cached('workout', (out) => ['-f', 'lavfi', '-i', graph, ...encode, '-t', String(total), out]);
    add({
      name: 'workout, two sets',
      type: 'workout',
      path,
      duration: total,
      labels: { highlights: [], sets: sets.map((s) => ({ start: s.start, end: s.start + s.reps * s.period, reps: s.reps })) },
    });
  }
  // 12. A file cut off at half its bytes: the container still claims the full duration.
  if (!quick) {
    const full = await cached('truncate_src', (out) => ['-f', 'lavfi', '-i', `smptehdbars=s=${W}x${H}:r=${FPS}:d=${d},noise=alls=2:allf=t`, ...encode, '-movflags', '+faststart', '-t', String(d), out]);
    const path = await truncatedCopy(full);
    add({ name: 'truncated file', type: 'highlights', path, duration: d, labels: { highlights: [], warnings: ['truncated', 'no_audio'] } });
  }
  return cases;
}

/** A copy of `src` holding its first half (bytes). */
async function truncatedCopy(src: string): Promise<string> {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const path = src.replace(/\.mp4$/, '-half.mp4');
  if (!existsSync(path)) {
    const data = readFileSync(src);
    writeFileSync(path, data.subarray(0, data.length >> 1));
  }
  return path;
}
