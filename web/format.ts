// Every time and size the page shows is formatted here. Clock times come from the engine's own
// formatter (floors to the second, as the results' timestamp_formatted does), so the timeline,
// the lists and the API agree.
import { formatClock } from '../src/engine/format.js';

export const clock = formatClock;

/** "00:09–00:12" */
export const span = (start: number, end: number) => `${clock(start)}–${clock(end)}`;

export function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) (n /= 1000), i++;
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${u[i]}`;
}

export const pct = (x: number) => `${Math.floor(x * 100)} %`;

/** "1 warning", "3 reps" */
export const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Seconds as "2.0 s" (one decimal). */
export const seconds = (s: number) => `${s.toFixed(1)} s`;

/** A date as the local "HH:MM" today, else "D Mon HH:MM". */
export function when(iso: string): string {
  const d = new Date(iso);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

/** Round tick positions (seconds) for an axis of `end` seconds with at most `max` ticks. */
export function ticks(end: number, max = 8): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  const step = steps.find((s) => end / s <= max) ?? Math.ceil(end / max / 3600) * 3600;
  const out: number[] = [];
  for (let t = 0; t <= end + 1e-6; t += step) out.push(t);
  return out;
}
