// Fan-out: 1,000 WebSocket and 200 SSE followers of one session on the real server while
// events are appended to that session (straight into the server's store, each carrying its
// send time), against socket.io (server here, 1,200 websocket clients in one room) with the
// same events at the same rate. The followers run in two child processes (600 each) and parse
// alike on both sides (see child/subscribers.ts); delay = arrival - send time on a clock all
// processes share.
//
// Two runs per side on the same connections: 20 events/s (delay at a light load), then a
// saturation ramp: the rate grows step by step until p99 delay passes 50 ms, an event is lost,
// a follower is dropped or the producer cannot keep the rate (or falls from the first rate
// until a step passes); the figure is the highest deliveries per second of a step that passed.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server as SocketIoServer } from 'socket.io';
import type { BenchOptions, Row } from './report.js';
import { BENCH_DIST, nowMs, sleep, startBenchServer, startChild, stopChild, type Child } from './util.js';

const P99_LIMIT_MS = 50;
const FOLLOWER_PROCESSES = 2;
const WS = 1000;
const SSE = 200;

interface StepResult {
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
  /** CPU of this process (server and producer) and of the follower processes, per wall second. */
  serverCores: number;
  followerCores: number;
  /** CPU seconds over the step (its grace period included). */
  serverCpuS: number;
  followerCpuS: number;
  failed: string | null;
}

interface Target {
  /** Sends event i of `step`; the event carries sentAt and step. */
  produce(i: number, step: number): void;
  spec: { mode: 'native' | 'socketio'; port: number; sessionId: string };
  finish(): void;
  close(): Promise<void>;
}

/** Sends `rate` events a second for `seconds` on a fixed schedule (late ones at once). */
async function paced(rate: number, seconds: number, produce: (i: number) => void): Promise<{ n: number; spanS: number }> {
  const n = Math.max(1, Math.round(rate * seconds));
  const t0 = nowMs();
  let i = 0;
  while (i < n) {
    const due = Math.min(n, Math.floor(((nowMs() - t0) * rate) / 1000) + 1);
    while (i < due) produce(i++);
    if (i < n) await sleep(Math.max(0, t0 + (i * 1000) / rate - nowMs()));
  }
  return { n, spanS: (nowMs() - t0) / 1000 };
}

function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

function percentileOf(hist: Map<number, number>, total: number, p: number, binMs: number): number {
  if (total === 0) return NaN;
  const want = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const [bin, count] of [...hist].sort((a, b) => a[0] - b[0])) {
    seen += count;
    if (seen >= want) return (bin + 1) * binMs;
  }
  return NaN;
}

class Followers {
  private dropped = 0;
  private constructor(private readonly children: Child[]) {}

  static async start(spec: Target['spec']): Promise<Followers> {
    const children: Child[] = [];
    for (let k = 0; k < FOLLOWER_PROCESSES; k++) {
      const c = startChild(join(BENCH_DIST, 'child', 'subscribers.js'), [
        JSON.stringify({ ...spec, ws: spec.mode === 'native' ? WS / FOLLOWER_PROCESSES : (WS + SSE) / FOLLOWER_PROCESSES, sse: spec.mode === 'native' ? SSE / FOLLOWER_PROCESSES : 0 }),
      ]);
      children.push(c);
      await c.message('READY', 120_000);
    }
    return new Followers(children);
  }

  cpu(): number {
    return this.children.reduce((s, c) => s + cpuSeconds(c.proc.pid!), 0);
  }

  /** One load step: `rate` events/s for `seconds`, then the followers' figures for it. */
  async step(target: Target, step: number, rate: number, seconds: number, graceMs: number): Promise<StepResult> {
    const s0 = process.cpuUsage();
    const f0 = this.cpu();
    const t0 = performance.now();
    const { n, spanS } = await paced(rate, seconds, (i) => target.produce(i, step));
    await sleep(graceMs);
    const wall = (performance.now() - t0) / 1000;
    const s = process.cpuUsage(s0);
    const followerCpuS = this.cpu() - f0;
    const serverCpuS = (s.user + s.system) / 1e6;
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

interface Plan {
  fixed: { rate: number; seconds: number } | null;
  ramp: { from: number; factor: number; seconds: number; graceMs: number; maxRate: number };
}

interface SideResult {
  fixed: StepResult | null;
  /** The fastest step that passed (null if none did) and the first one that failed. */
  best: StepResult | null;
  failedAt: StepResult | null;
}

async function drive(target: Target, plan: Plan, log: (l: string) => void, name: string): Promise<SideResult> {
  const followers = await Followers.start(target.spec);
  try {
    await sleep(500);
    let step = 0;
    const fixed = plan.fixed ? await followers.step(target, step++, plan.fixed.rate, plan.fixed.seconds, 2000) : null;
    let best: StepResult | null = null;
    let failedAt: StepResult | null = null;
    // Up from `from` while steps pass; when the first step already fails, down until one passes.
    let down = false;
    for (let rate = plan.ramp.from; rate >= 1 && rate <= plan.ramp.maxRate; rate = Math.round((down ? rate / plan.ramp.factor : rate * plan.ramp.factor) * 10) / 10) {
      const r = await followers.step(target, step++, rate, plan.ramp.seconds, plan.ramp.graceMs);
      log(
        `${name} ${rate} events/s: ${(r.delivered / r.spanS).toFixed(0)} deliveries/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ` +
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
    target.finish();
    return { fixed, best, failedAt };
  } finally {
    await followers.stop();
    await target.close();
  }
}

async function native(): Promise<Target> {
  const srv = await startBenchServer();
  const session = await srv.server.service.store.create({ analysisType: 'highlights', params: {}, filename: null }, 'uploading');
  return {
    spec: { mode: 'native', port: srv.port, sessionId: session.id },
    produce: (i, step) => void session.append('upload', { receivedBytes: i + 1, totalBytes: 1e9, step, sentAt: nowMs() }),
    finish: () => void session.transition('cancelled'),
    close: () => srv.close(),
  };
}

async function socketio(): Promise<Target> {
  const server = http.createServer();
  const io = new SocketIoServer(server, { serveClient: false });
  io.on('connection', (socket) => {
    socket.on('subscribe', (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const room = 'V1StGXR8_Z5jdHi6B-myT';
  let seq = 1;
  return {
    spec: { mode: 'socketio', port, sessionId: room },
    produce: (i, step) => void io.to(room).emit('event', { sessionId: room, seq: ++seq, type: 'upload', data: { receivedBytes: i + 1, totalBytes: 1e9, step, sentAt: nowMs() } }),
    finish: () => void io.to(room).emit('event', { sessionId: room, seq: ++seq, type: 'cancelled', data: {} }),
    close: async () => {
      io.close();
      server.closeAllConnections();
    },
  };
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const fixed = { rate: 20, seconds: quick ? 3 : 20 };
  const ramp = quick
    ? { from: 20, factor: 2, seconds: 1.5, graceMs: 500, maxRate: 6400 }
    : { from: 20, factor: 1.41, seconds: 3, graceMs: 1000, maxRate: 6400 };
  const rounds = quick ? 1 : 2;
  const results: Record<'ours' | 'socket.io', SideResult[]> = { ours: [], 'socket.io': [] };
  // Interleaved rounds (the first one also runs the 20 events/s load), best ramp per side.
  for (let round = 0; round < rounds; round++) {
    const plan: Plan = { fixed: round === 0 ? fixed : null, ramp };
    results.ours.push(await drive(await native(), plan, log, 'ours'));
    results['socket.io'].push(await drive(await socketio(), plan, log, 'socket.io'));
  }
  const peak = (r: SideResult) => (r.best ? r.best.delivered / r.best.spanS : 0);
  const best = (side: 'ours' | 'socket.io') => results[side].reduce((a, b) => (peak(b) > peak(a) ? b : a));
  const ours = best('ours');
  const peer = best('socket.io');
  const oursFixed = results.ours[0].fixed!;
  const peerFixed = results['socket.io'][0].fixed!;
  const followers = WS + SSE;
  for (const [name, r] of [['ours', oursFixed], ['socket.io', peerFixed]] as const) {
    log(`${name} at ${fixed.rate} events/s: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, lost ${r.lost}, dropped ${r.dropped}`);
  }
  const baseline = `socket.io 4 (${followers} websocket clients, one room)`;
  const desc = `${WS} WS + ${SSE} SSE, ${fixed.rate} events/s for ${fixed.seconds} s`;
  const at = (r: SideResult) =>
    r.best
      ? `${r.best.rate} events/s (p99 ${r.best.p99.toFixed(1)} ms; server ${r.best.serverCores.toFixed(2)} cores, followers ${r.best.followerCores.toFixed(2)})`
      : 'no step passed';
  const usPerDelivery = (r: StepResult, who: 'serverCpuS' | 'followerCpuS' = 'serverCpuS') => (r[who] * 1e6) / r.delivered;
  const stop = (r: SideResult) => (r.failedAt ? `${r.failedAt.rate} events/s: ${r.failedAt.failed}` : `none up to ${ramp.maxRate} events/s`);
  return [
    {
      bench: 'fanout', metric: `delivery latency p50 at ${fixed.rate} events/s`, unit: 'ms', value: oursFixed.p50, baseline, baselineValue: peerFixed.p50, better: 'lower',
      note: `${desc}; ${oursFixed.delivered} deliveries (socket.io ${peerFixed.delivered}); followers in ${FOLLOWER_PROCESSES} child processes`,
    },
    { bench: 'fanout', metric: `delivery latency p99 at ${fixed.rate} events/s`, unit: 'ms', value: oursFixed.p99, baseline, baselineValue: peerFixed.p99, better: 'lower' },
    {
      bench: 'fanout', metric: `events lost at ${fixed.rate} events/s (all followers)`, unit: 'events', value: oursFixed.lost, baseline, baselineValue: peerFixed.lost, better: 'lower',
      note: `followers dropped by the server: ours ${oursFixed.dropped}, socket.io ${peerFixed.dropped}`,
    },
    {
      bench: 'fanout', metric: `server CPU per delivery at ${fixed.rate} events/s`, unit: 'µs', value: usPerDelivery(oursFixed), baseline, baselineValue: usPerDelivery(peerFixed), better: 'lower',
      note: `CPU of the server's process (producer included) over the run / deliveries; followers used ${usPerDelivery(oursFixed, 'followerCpuS').toFixed(1)} µs per delivery on our side, ${usPerDelivery(peerFixed, 'followerCpuS').toFixed(1)} on socket.io's`,
    },
    {
      bench: 'fanout', metric: `highest sustained deliveries (p99 ≤ ${P99_LIMIT_MS} ms, none lost, ${followers} followers)`, unit: 'deliveries/s', value: peak(ours), baseline, baselineValue: peak(peer), better: 'higher',
      note: `rate ×${ramp.factor} per ${ramp.seconds}-s step from ${ramp.from} events/s, best of ${rounds} ramp${rounds > 1 ? 's' : ''}; ours passed at ${at(ours)}, stopped at ${stop(ours)}; socket.io passed at ${at(peer)}, stopped at ${stop(peer)}`,
    },
  ];
}
