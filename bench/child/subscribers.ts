// Subscriber child for bench/fanout.ts: opens many WebSocket + SSE followers of one session on
// the real server (mode "native"), or many socket.io clients in one room (mode "socketio"),
// prints `READY {}` once all follow, records for each event the delay from its `sentAt` (a
// monotonic clock shared by both processes) to its arrival, and on the parent's `END <n>` line
// prints `RESULT {...}` with latency percentiles and events lost (n expected per subscriber).
import http from 'node:http';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { emit, nowMs, onParentLine, summarize } from './proto.js';

interface Spec {
  mode: 'native' | 'socketio';
  port: number;
  sessionId: string;
  ws: number;
  sse: number;
}

const spec = JSON.parse(process.argv[2]) as Spec;
const latencies: number[] = [];
/** Per subscriber: how many data events (those with sentAt) arrived. */
const received: number[] = [];
let closedEarly = 0;
const closers: (() => void)[] = [];

function record(idx: number, data: { sentAt?: number } | undefined): void {
  if (typeof data?.sentAt !== 'number') return;
  latencies.push(nowMs() - data.sentAt);
  received[idx]++;
}

/** Opens `n` connections, `batch` at a time (keeps the listen backlog small). */
async function openAll(n: number, batch: number, open: (idx: number) => Promise<void>, offset: number): Promise<void> {
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => open(offset + i + k)));
  }
}

function nativeWs(idx: number): Promise<void> {
  received[idx] = 0;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${spec.port}/api/v1/video/ws`, { perMessageDeflate: false });
    let ready = false;
    let done = false;
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', sessionId: spec.sessionId })));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (!ready) {
        ready = true; // the replay of the session's first event: we follow it now
        resolve();
      }
      if (msg.type === 'cancelled') done = true;
      record(idx, msg.data);
    });
    ws.on('error', (e) => (ready ? undefined : reject(e)));
    ws.on('close', () => {
      if (!done) closedEarly++;
    });
    closers.push(() => ws.terminate());
  });
}

function nativeSse(idx: number): Promise<void> {
  received[idx] = 0;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: spec.port, path: `/api/v1/video/events/${spec.sessionId}`, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE ${res.statusCode}`));
      res.setEncoding('utf8');
      let buf = '';
      let ready = false;
      let done = false;
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!data) continue;
          if (!ready) {
            ready = true;
            resolve();
          }
          if (/^event: cancelled$/m.test(block)) done = true;
          record(idx, JSON.parse(data));
        }
      });
      res.on('close', () => {
        if (!done) closedEarly++;
      });
    });
    req.on('error', reject);
    closers.push(() => req.destroy());
  });
}

function socketIo(idx: number): Promise<void> {
  received[idx] = 0;
  return new Promise((resolve, reject) => {
    const s: Socket = ioClient(`http://127.0.0.1:${spec.port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
    s.on('connect', () => s.emit('subscribe', spec.sessionId, () => resolve()));
    s.on('event', (msg: { data?: { sentAt?: number } }) => record(idx, msg.data));
    s.on('connect_error', reject);
    s.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') closedEarly++;
    });
    closers.push(() => s.disconnect());
  });
}

if (spec.mode === 'native') {
  await openAll(spec.ws, 100, nativeWs, 0);
  await openAll(spec.sse, 50, nativeSse, spec.ws);
} else {
  await openAll(spec.ws + spec.sse, 100, socketIo, 0);
}
emit('READY', { subscribers: received.length });

onParentLine((line) => {
  const m = /^END (\d+)$/.exec(line);
  if (!m) return;
  const expected = Number(m[1]);
  const lost = received.reduce((n, r) => n + Math.max(0, expected - r), 0);
  const lat = summarize(latencies);
  emit('RESULT', { subscribers: received.length, expected, delivered: lat.n, lost, closedEarly, p50: lat.p50, p99: lat.p99, max: lat.max });
  for (const c of closers) c();
  setTimeout(() => process.exit(0), 100);
});
