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
import { Server as SocketIoServer } from 'socket.io';
import { paced } from './child/proto.js';
import { Followers, P99_LIMIT_MS, rampUp, type Produce, type Ramp, type StepResult } from './followers.js';
import type { BenchOptions, Row } from './report.js';
import { nowMs, sleep, startBenchServer } from './util.js';

const FOLLOWER_PROCESSES = 2;
const WS = 1000;
const SSE = 200;

interface Target {
  /** Sends event i of `step`; the event carries sentAt and step. */
  produce(i: number, step: number): void;
  spec: { mode: 'native' | 'socketio'; port: number; sessionId: string };
  finish(): void;
  close(): Promise<void>;
}

/** The server and the producer run in this process. */
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Plan {
  fixed: { rate: number; seconds: number } | null;
  ramp: Ramp;
}

interface SideResult {
  fixed: StepResult | null;
  /** The fastest step that passed (null if none did) and the first one that failed. */
  best: StepResult | null;
  failedAt: StepResult | null;
}

async function drive(target: Target, plan: Plan, log: (l: string) => void, name: string): Promise<SideResult> {
  const n = FOLLOWER_PROCESSES;
  const native = target.spec.mode === 'native';
  const followers = await Followers.start(
    Array.from({ length: n }, () => ({ ...target.spec, ws: native ? WS / n : (WS + SSE) / n, sse: native ? SSE / n : 0 })),
  );
  const produce: Produce = (step, rate, seconds) => paced(rate, seconds, (i) => target.produce(i, step));
  try {
    await sleep(500);
    const fixed = plan.fixed ? await followers.step(produce, ownCpu, 0, plan.fixed.rate, plan.fixed.seconds, 2000) : null;
    const { best, failedAt } = await rampUp(followers, produce, ownCpu, plan.ramp, 1, (l) => log(`${name} ${l}`));
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
