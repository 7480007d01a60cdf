// Followers of one session (or socket.io room) in child processes (child/subscribers.ts) and the
// load steps the fan-out benchmarks measure with them: events are produced at a rate for a few
// seconds, then each child reports its delay histogram for that step (delay = arrival - send
// time on a clock all processes share), deliveries, losses and dropped followers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIST, sleep, startChild, stopChild, type Child } from './util.js';

export const P99_LIMIT_MS = 50;

export interface StepResult {
  rate: number;
  events: number;
  /** From the first event sent to the last. */
  spanS: number;
  delivered: number;
  lost: number;
  dropped: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU of the serving side (server, producer) and of the follower processes, per wall second. */
  serverCores: number;
  followerCores: number;
  /** CPU seconds over the step (its grace period included). */
  serverCpuS: number;
  followerCpuS: number;
  failed: string | null;
}

/** Where one follower process connects and how many followers it opens there. */
export interface FollowerSpec {
  mode: 'native' | 'socketio';
  port: number;
  sessionId: string;
  ws: number;
  sse: number;
}

/** Produces `rate` events/s for `seconds` in step `step`; says how many it sent over how long. */
export type Produce = (step: number, rate: number, seconds: number) => Promise<{ n: number; spanS: number }>;

export function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

export function percentileOf(hist: Map<number, number>, total: number, p: number, binMs: number): number {
  if (total === 0) return NaN;
  const want = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const [bin, count] of [...hist].sort((a, b) => a[0] - b[0])) {
    seen += count;
    if (seen >= want) return (bin + 1) * binMs;
  }
  return NaN;
}

export class Followers {
  private dropped = 0;
  private constructor(private readonly children: Child[]) {}

  /** One child process per spec, started one after the other (each opens its followers in batches). */
  static async start(specs: FollowerSpec[]): Promise<Followers> {
    const children: Child[] = [];
    try {
      for (const spec of specs) {
        const c = startChild(join(BENCH_DIST, 'child', 'subscribers.js'), [JSON.stringify(spec)]);
        children.push(c);
        await c.message('READY', 120_000);
      }
    } catch (err) {
      for (const c of children) await stopChild(c);
      throw err;
    }
    return new Followers(children);
  }

  cpu(): number {
    return this.children.reduce((s, c) => s + cpuSeconds(c.proc.pid!), 0);
  }

  /** One load step: `produce` at `rate` for `seconds`, a grace period, then the followers' figures. */
  async step(produce: Produce, serverCpu: () => number, step: number, rate: number, seconds: number, graceMs: number): Promise<StepResult> {
    const s0 = serverCpu();
    const f0 = this.cpu();
    const t0 = performance.now();
    const { n, spanS } = await produce(step, rate, seconds);
    await sleep(graceMs);
    const wall = (performance.now() - t0) / 1000;
    const serverCpuS = serverCpu() - s0;
    const followerCpuS = this.cpu() - f0;
    for (const c of this.children) c.send(`STEP ${step} ${n}`);
    const results = await Promise.all(this.children.map((c) => c.message('RESULT', 60_000)));
    const hist = new Map<number, number>();
    let delivered = 0;
    let lost = 0;
    let closed = 0;
    for (const r of results) {
      delivered += r.delivered;
      lost += r.lost;
      closed += r.closedEarly;
      for (const [b, c] of r.hist as [number, number][]) hist.set(b, (hist.get(b) ?? 0) + c);
    }
    const binMs: number = results[0].binMs;
    const dropped = closed - this.dropped;
    this.dropped = closed;
    const p99 = percentileOf(hist, delivered, 99, binMs);
    const behind = spanS > seconds * 1.05 + 0.05;
    const failed =
      lost > 0 ? `${lost} deliveries lost` : dropped > 0 ? `${dropped} followers dropped` : behind ? `the producer fell behind (${(n / spanS).toFixed(0)} of ${rate} events/s)` : p99 > P99_LIMIT_MS ? `p99 ${p99.toFixed(0)} ms` : null;
    return {
      rate, events: n, spanS, delivered, lost, dropped, p99, failed,
      p50: percentileOf(hist, delivered, 50, binMs),
      max: Math.max(...[...hist.keys()].map((b) => (b + 1) * binMs)),
      serverCores: serverCpuS / wall,
      followerCores: followerCpuS / wall,
      serverCpuS,
      followerCpuS,
    };
  }

  async stop(): Promise<void> {
    for (const c of this.children) c.send('END');
    for (const c of this.children) await stopChild(c);
  }
}

export interface Ramp {
  from: number;
  factor: number;
  seconds: number;
  graceMs: number;
  maxRate: number;
}

/**
 * Up from `from` while steps pass; when the first step already fails, down until one passes.
 * Returns the fastest step that passed (null if none did) and the first one that failed.
 */
export async function rampUp(
  followers: Followers,
  produce: Produce,
  serverCpu: () => number,
  ramp: Ramp,
  firstStep: number,
  log: (line: string) => void,
): Promise<{ best: StepResult | null; failedAt: StepResult | null }> {
  let step = firstStep;
  let best: StepResult | null = null;
  let failedAt: StepResult | null = null;
  let down = false;
  for (let rate = ramp.from; rate >= 1 && rate <= ramp.maxRate; rate = Math.round((down ? rate / ramp.factor : rate * ramp.factor) * 10) / 10) {
    const r = await followers.step(produce, serverCpu, step++, rate, ramp.seconds, ramp.graceMs);
    log(
      `${rate} events/s: ${(r.delivered / r.spanS).toFixed(0)} deliveries/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ` +
        `server ${r.serverCores.toFixed(2)} cores, followers ${r.followerCores.toFixed(2)}${r.failed ? ` — ${r.failed}` : ''}`,
    );
    if (r.failed) {
      failedAt ??= r;
      if (best) break;
      down = true;
    } else {
      best = r;
      if (down) break;
    }
    await sleep(300);
  }
  return { best, failedAt };
}
