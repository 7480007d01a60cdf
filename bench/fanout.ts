// Fan-out: 1,000 WebSocket and 200 SSE followers of one session on the real server while
// events are appended to that session at a fixed rate (straight into the server's store, each
// carrying its send time), against socket.io (server here, socket.io-client followers) under
// the same load: 1,200 clients in one room, the same events at the same rate. The followers run
// in a child process; delay = arrival - send time on a clock both processes share.
import http from 'node:http';
import { join } from 'node:path';
import { Server as SocketIoServer } from 'socket.io';
import type { BenchOptions, Row } from './report.js';
import { BENCH_DIST, nowMs, sleep, startBenchServer, startChild, stopChild } from './util.js';

interface Load {
  rate: number;
  seconds: number;
  ws: number;
  sse: number;
}

interface FanoutResult {
  subscribers: number;
  expected: number;
  delivered: number;
  lost: number;
  closedEarly: number;
  p50: number;
  p99: number;
  max: number;
}

/** Calls `produce(i, sentAt)` `rate` times a second for `seconds`, on a fixed schedule. */
async function paced(load: Load, produce: (i: number) => void): Promise<number> {
  const n = Math.round(load.rate * load.seconds);
  const period = 1000 / load.rate;
  const t0 = nowMs();
  for (let i = 0; i < n; i++) {
    const wait = t0 + i * period - nowMs();
    if (wait > 0) await sleep(wait);
    produce(i);
  }
  return n;
}

async function followers(spec: object, load: Load, produce: () => Promise<number>): Promise<FanoutResult> {
  const child = startChild(join(BENCH_DIST, 'child', 'subscribers.js'), [JSON.stringify(spec)]);
  try {
    await child.message('READY', 120_000);
    await sleep(500);
    const n = await produce();
    await sleep(2000); // stragglers
    child.send(`END ${n}`);
    return await child.message('RESULT', 30_000);
  } finally {
    await stopChild(child);
  }
}

async function native(load: Load): Promise<FanoutResult> {
  const srv = await startBenchServer();
  try {
    const session = srv.server.service.store.create({ analysisType: 'highlights', params: {}, filename: null }, 'uploading');
    const total = Math.round(load.rate * load.seconds);
    return await followers({ mode: 'native', port: srv.port, sessionId: session.id, ws: load.ws, sse: load.sse }, load, async () => {
      const n = await paced(load, (i) => session.append('upload', { receivedBytes: i + 1, totalBytes: total, sentAt: nowMs() }));
      session.transition('cancelled');
      return n;
    });
  } finally {
    await srv.close();
  }
}

async function socketio(load: Load): Promise<FanoutResult> {
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
  const total = Math.round(load.rate * load.seconds);
  try {
    return await followers({ mode: 'socketio', port, sessionId: room, ws: load.ws, sse: load.sse }, load, async () => {
      let seq = 1;
      const n = await paced(load, (i) =>
        io.to(room).emit('event', { sessionId: room, seq: ++seq, type: 'upload', data: { receivedBytes: i + 1, totalBytes: total, sentAt: nowMs() } }),
      );
      io.to(room).emit('event', { sessionId: room, seq: ++seq, type: 'cancelled', data: {} });
      return n;
    });
  } finally {
    io.close();
    server.closeAllConnections();
  }
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const load: Load = { rate: 20, seconds: quick ? 3 : 20, ws: 1000, sse: 200 };
  const desc = `${load.ws} WS + ${load.sse} SSE, ${load.rate} events/s for ${load.seconds} s`;
  const ours = await native(load);
  log(`ours (${desc}): p50 ${ours.p50.toFixed(2)} ms, p99 ${ours.p99.toFixed(2)} ms, max ${ours.max.toFixed(1)} ms, lost ${ours.lost}, dropped ${ours.closedEarly}`);
  const peer = await socketio(load);
  log(`socket.io (${load.ws + load.sse} clients): p50 ${peer.p50.toFixed(2)} ms, p99 ${peer.p99.toFixed(2)} ms, max ${peer.max.toFixed(1)} ms, lost ${peer.lost}, dropped ${peer.closedEarly}`);
  const baseline = `socket.io 4 (${load.ws + load.sse} websocket clients, one room)`;
  const note = `${desc}; ${ours.delivered} deliveries (socket.io ${peer.delivered}); followers in a child process`;
  return [
    { bench: 'fanout', metric: 'delivery latency p50', unit: 'ms', value: ours.p50, baseline, baselineValue: peer.p50, better: 'lower', note },
    { bench: 'fanout', metric: 'delivery latency p99', unit: 'ms', value: ours.p99, baseline, baselineValue: peer.p99, better: 'lower' },
    {
      bench: 'fanout', metric: 'events lost (all followers)', unit: 'events', value: ours.lost, baseline, baselineValue: peer.lost, better: 'lower',
      note: `followers dropped by the server: ours ${ours.closedEarly}, socket.io ${peer.closedEarly}`,
    },
  ];
}
