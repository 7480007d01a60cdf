// Camera motion versus subject motion, in numbers and words. The native pass fits a
// translation + zoom model to block motion between sampled frames (native/camera_motion.cpp);
// here it becomes per-second rates in frame units and a phrase such as "camera pans left".
import { round } from '../format.js';
import type { NativeSegmentEvent } from '../native.js';
import type { CameraMotion } from '../types.js';

/** Longest side of the engine's gray analysis frames (NativeJobOptions.analysisSize default). */
export const ANALYSIS_SIZE = 160;

// What counts as a camera move (per second, in frame widths / heights / scale).
const PAN_MIN = 0.02; // 2% of the frame width per second
const ZOOM_MIN = 0.01; // 1% scale change per second
const SHAKE_MIN = 0.008; // velocity change between samples, frame widths
const FADE_MIN = 0.02; // |log brightness ratio| per sample

/** Subject motion (mean luma change left after camera compensation, 0..255) bands. */
export const SUBJECT_STEADY = 1.5;
export const SUBJECT_FAST = 6;

export interface AnalysisFrame {
  width: number;
  height: number;
  /** Seconds between samples. */
  interval: number;
}

export function analysisFrame(videoWidth: number, videoHeight: number, sampleFps: number): AnalysisFrame {
  const w = videoWidth > 0 ? videoWidth : 16;
  const h = videoHeight > 0 ? videoHeight : 9;
  const scale = ANALYSIS_SIZE / Math.max(w, h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)), interval: 1 / sampleFps };
}

/** Camera motion of one segment; null when too little of it had texture to tell. */
export function cameraMotion(seg: NativeSegmentEvent, frame: AnalysisFrame): CameraMotion | null {
  const c = seg.camera;
  if (!c || c.samples < Math.max(2, 0.3 * seg.samples)) {
    return c && c.fade >= FADE_MIN ? { pan: 0, tilt: 0, zoom: 0, shake: 0, fade: true, description: 'fade' } : null;
  }
  // Picture content moving right means the camera turns left; content moving down, the camera tilts up.
  const pan = -c.dx / frame.width / frame.interval;
  const tilt = c.dy / frame.height / frame.interval;
  const zoom = c.zoom / frame.interval;
  const shake = c.jitter / frame.width;
  const fade = c.fade >= FADE_MIN;
  const words: string[] = [];
  if (shake >= SHAKE_MIN) words.push('handheld');
  const moves: string[] = [];
  if (Math.abs(pan) >= PAN_MIN && Math.abs(pan) >= 0.5 * Math.abs(tilt)) moves.push(`pans ${pan < 0 ? 'left' : 'right'}`);
  if (Math.abs(tilt) >= PAN_MIN && Math.abs(tilt) >= 0.5 * Math.abs(pan)) moves.push(`tilts ${tilt > 0 ? 'up' : 'down'}`);
  if (Math.abs(zoom) >= ZOOM_MIN) moves.push(`zooms ${zoom > 0 ? 'in' : 'out'}`);
  if (moves.length) words.push(`camera ${moves.join(' and ')}`);
  if (fade) words.push('fade');
  if (!words.length) words.push('steady camera');
  return { pan: round(pan, 3), tilt: round(tilt, 3), zoom: round(zoom, 3), shake: round(shake, 3), fade, description: words.join(', ') };
}

/** Whether the camera itself moves (pan, tilt, zoom, shake). */
export function cameraMoves(c: CameraMotion | null): boolean {
  return !!c && (Math.abs(c.pan) >= PAN_MIN || Math.abs(c.tilt) >= PAN_MIN || Math.abs(c.zoom) >= ZOOM_MIN || c.shake >= SHAKE_MIN);
}

export function subjectWords(subject: number, cameraMoving: boolean): string {
  if (subject < SUBJECT_STEADY) return cameraMoving ? 'steady subject' : 'still picture';
  if (subject < 3) return 'calm';
  if (subject < SUBJECT_FAST) return 'moderate motion';
  if (subject < 12) return 'fast motion';
  return 'very fast motion';
}
