// The light helpers child processes need (no server or engine imports, so a child's memory is
// its own): protocol lines to and from the parent, a cross-process clock, percentiles.

/** Monotonic milliseconds, comparable across processes on the same machine (CLOCK_MONOTONIC). */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(samples: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = Float64Array.from(samples).sort();
  const arr = Array.from(s);
  return { n: arr.length, p50: percentile(arr, 50), p99: percentile(arr, 99), max: arr[arr.length - 1] ?? NaN, mean: arr.reduce((a, b) => a + b, 0) / (arr.length || 1) };
}

/** For child scripts: print a protocol line. */
export function emit(kind: string, data: unknown): void {
  process.stdout.write(`${kind} ${JSON.stringify(data)}\n`);
}

/** For child scripts: resolves with each line the parent writes. */
export function onParentLine(fn: (line: string) => void): void {
  let buf = '';
  process.stdin.on('data', (d: Buffer) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** Sends `rate` events a second for `seconds` on a fixed schedule (late ones at once). */
export async function paced(rate: number, seconds: number, produce: (i: number) => void): Promise<{ n: number; spanS: number }> {
  const n = Math.max(1, Math.round(rate * seconds));
  const t0 = nowMs();
  let i = 0;
  while (i < n) {
    const due = Math.min(n, Math.floor(((nowMs() - t0) * rate) / 1000) + 1);
    while (i < due) produce(i++);
    if (i < n) await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i * 1000) / rate - nowMs())));
  }
  return { n, spanS: (nowMs() - t0) / 1000 };
}
