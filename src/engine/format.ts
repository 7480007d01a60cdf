// Time formatting shared by the engines' results.

/** "MM:SS" (minutes keep counting past 59, e.g. "75:03"); negative/invalid input counts as 0. */
export function formatClock(seconds: number): string {
  const s = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds + 1e-6) : 0;
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** "MM:SS - MM:SS" */
export function formatRange(start: number, end: number): string {
  return `${formatClock(start)} - ${formatClock(end)}`;
}

/** Rounds for JSON output (avoids 2.9999999999). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return 0;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
