// Default segment length for highlights: ~10 segments for short clips, growing slowly (square
// root) with length so a 2-hour video gets ~150 segments rather than thousands.
export function defaultSegmentDuration(duration: number): number {
  if (!Number.isFinite(duration) || duration <= 0) return 3;
  const target = duration <= 30 ? 10 : Math.min(300, 10 * Math.sqrt(duration / 30));
  const raw = duration / target;
  const seg = raw < 10 ? Math.round(raw * 2) / 2 : Math.round(raw);
  return Math.min(600, Math.max(2, seg));
}
