// Subscriber child for bench/fanout.ts: opens many WebSocket + SSE followers of one session on
// the real server (mode "native"), or many socket.io clients in one room (mode "socketio"),
// and prints `READY {}` once all follow. Every data event carries `sentAt` (a monotonic clock
// shared by both processes) and `step` (which load step sent it); on the parent's
// `STEP <k> <n>` line it prints `RESULT {...}` for step k: the delay histogram, deliveries,
// and events lost (n expected per subscriber). `END` closes everything and exits.
//
// Both modes parse alike and as little as possible (plain ws clients, the two numbers found by
// indexOf, no JSON.parse), so the followers cost the same per delivery on either side; the
// socket.io followers speak the Engine.IO 4 / socket.io 5 wire protocol themselves.
import http from 'node:http';
import WebSocket from 'ws';
import { emit, nowMs, onParentLine } from './proto.js';

interface Spec {
  mode: 'native' | 'socketio';
  port: number;
  sessionId: string;
  ws: number;
  sse: number;
}

/** Delay histogram resolution (ms) and range; later arrivals fall in the last bin. */
const BIN_MS = 0.05;
const BINS = 40_000;

interface StepStats {
  hist: Uint32Array;
  /** Per subscriber: data events of this step that arrived. */
  received: Uint32Array;
  delivered: number;
}

const spec = JSON.parse(process.argv[2]) as Spec;
const total = spec.ws + spec.sse;
const steps = new Map<number, StepStats>();
const reported = new Set<number>();
let closedEarly = 0;
let ending = false;
const closers: (() => void)[] = [];

/** The number after `"key":` in text, NaN if absent. */
function numberAfter(text: string, key: string): number {
  const i = text.indexOf(key);
  return i < 0 ? NaN : parseFloat(text.slice(i + key.length, i + key.length + 32));
}

function record(idx: number, text: string): void {
  const sentAt = numberAfter(text, '"sentAt":');
  if (Number.isNaN(sentAt)) return;
  const step = numberAfter(text, '"step":');
  if (reported.has(step)) return;
  let s = steps.get(step);
  if (!s) steps.set(step, (s = { hist: new Uint32Array(BINS), received: new Uint32Array(total), delivered: 0 }));
  s.hist[Math.min(BINS - 1, Math.max(0, Math.floor((nowMs() - sentAt) / BIN_MS)))]++;
  s.received[idx]++;
  s.delivered++;
}

/** Opens `n` connections, `batch` at a time (keeps the listen backlog small). */
async function openAll(n: number, batch: number, open: (idx: number) => Promise<void>, offset: number): Promise<void> {
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => open(offset + i + k)));
  }
}

function nativeWs(idx: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${spec.port}/api/v1/video/ws`, { perMessageDeflate: false, skipUTF8Validation: true });
    let ready = false;
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', sessionId: spec.sessionId })));
    ws.on('message', (raw: Buffer) => {
      if (!ready) {
        ready = true; // the replay of the session's first event: we follow it now
        resolve();
      }
      record(idx, raw.toString('latin1'));
    });
    ws.on('error', (e) => (ready ? undefined : reject(e)));
    ws.on('close', () => {
      if (!ending) closedEarly++;
    });
    closers.push(() => ws.terminate());
  });
}

function nativeSse(idx: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: spec.port, path: `/api/v1/video/events/${spec.sessionId}`, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE ${res.statusCode}`));
      res.setEncoding('latin1');
      let buf = '';
      let ready = false;
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!block.includes('\ndata: ')) continue;
          if (!ready) {
            ready = true;
            resolve();
          }
          record(idx, block);
        }
      });
      res.on('close', () => {
        if (!ending) closedEarly++;
      });
    });
    req.on('error', reject);
    closers.push(() => req.destroy());
  });
}

/**
 * A socket.io client over a plain WebSocket: Engine.IO open (`0{…}`), socket.io CONNECT to "/"
 * (`40`), `subscribe` with an acknowledgement (`421[…]` → `431[…]`), then events arrive as
 * `42["event",{…}]`; the server's pings (`2`) are answered (`3`).
 */
function socketIo(idx: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${spec.port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false, skipUTF8Validation: true });
    let ready = false;
    ws.on('message', (raw: Buffer) => {
      const text = raw.toString('latin1');
      if (text.startsWith('42')) record(idx, text);
      else if (text === '2') ws.send('3');
      else if (text.startsWith('0{')) ws.send('40');
      else if (text.startsWith('40')) ws.send(`421${JSON.stringify(['subscribe', spec.sessionId])}`);
      else if (text.startsWith('431') && !ready) {
        ready = true;
        resolve();
      }
    });
    ws.on('error', (e) => (ready ? undefined : reject(e)));
    ws.on('close', () => {
      if (!ending) closedEarly++;
    });
    closers.push(() => ws.terminate());
  });
}

if (spec.mode === 'native') {
  await openAll(spec.ws, 100, nativeWs, 0);
  await openAll(spec.sse, 50, nativeSse, spec.ws);
} else {
  await openAll(spec.ws + spec.sse, 100, socketIo, 0);
}
emit('READY', { subscribers: total });

onParentLine((line) => {
  if (line === 'END') {
    ending = true;
    for (const c of closers) c();
    setTimeout(() => process.exit(0), 100);
    return;
  }
  const m = /^STEP (\S+) (\d+)$/.exec(line);
  if (!m) return;
  const step = Number(m[1]);
  const expected = Number(m[2]);
  const s = steps.get(step);
  steps.delete(step);
  reported.add(step);
  let lost = 0;
  for (let i = 0; i < total; i++) lost += Math.max(0, expected - (s?.received[i] ?? 0));
  // sparse histogram: [bin, count] pairs
  const hist: [number, number][] = [];
  if (s) s.hist.forEach((c, b) => c && hist.push([b, c]));
  emit('RESULT', { step, subscribers: total, expected, delivered: s?.delivered ?? 0, lost, closedEarly, binMs: BIN_MS, hist });
});
