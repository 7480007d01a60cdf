// Latencies of the session machinery on the real server (in this process):
// - cancel: POST cancel while a 1080p analysis runs → its 200, and → the `cancelled` event on a
//   WebSocket follower; baseline: a GET status round trip to the same server just before (also
//   while the analysis runs), the least any request costs there;
// - last uploaded byte → first `segment` event (observed in the session store as it is
//   appended); baseline: the engine alone, analyze() → first segment on the same file.
import { statSync } from 'node:fs';
import WebSocket from 'ws';
import { createSignalEngine } from '../src/engine/index.js';
import type { Session } from '../src/streams/session.js';
import { multipart } from './ingest.js';
import type { BenchOptions, Row } from './report.js';
import { nowMs, startBenchServer, summarize, testClip } from './util.js';

function follow(port: number, sessionId: string, until: (msg: any) => boolean): { ready: Promise<void>; hit: Promise<number>; close(): void } {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/video/ws`);
  let ready!: () => void;
  let hit!: (t: number) => void;
  const r = new Promise<void>((res) => (ready = res));
  const h = new Promise<number>((res) => (hit = res));
  ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', sessionId })));
  let first = true;
  ws.on('message', (raw) => {
    const msg = JSON.parse(String(raw));
    if (first) {
      first = false;
      ready();
    }
    if (until(msg)) hit(nowMs());
  });
  return { ready: r, hit: h, close: () => ws.close() };
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const reps = quick ? 3 : 10;
  const file = await testClip(20, 1920, 1080);
  const size = statSync(file).size;
  const srv = await startBenchServer();
  const store = srv.server.service.store;
  // every new session: note when its first segment is appended
  const firstSegment = new Map<string, number>();
  const created = new Map<string, Session>();
  const create = store.create.bind(store);
  store.create = async (spec, status) => {
    const s = await create(spec, status);
    created.set(s.id, s);
    const sub = s.eventsSince(0).subscribe((ev) => {
      if (ev.type === 'segment' && !firstSegment.has(s.id)) {
        firstSegment.set(s.id, nowMs());
        queueMicrotask(() => sub.unsubscribe());
      }
    });
    return s;
  };
  const cancelAck: number[] = [];
  const cancelEvent: number[] = [];
  const statusRtt: number[] = [];
  const toSegment: number[] = [];
  const ackAfterLastByte: number[] = [];
  let skipped = 0;
  try {
    for (let i = 0; i < reps; i++) {
      // upload; time from the last byte to the first segment
      const t0 = nowMs();
      const up = await multipart(srv.port, file, size);
      const lastByte = t0 + up.lastByteS * 1000;
      ackAfterLastByte.push((up.ackS - up.lastByteS) * 1000);
      const id = JSON.parse(up.body).sessionId as string;
      const session = created.get(id)!;
      await new Promise<void>((res, rej) => {
        const until = Date.now() + 60_000;
        const t = setInterval(() => {
          if (firstSegment.has(id)) (clearInterval(t), res());
          else if (session.terminal || Date.now() > until) (clearInterval(t), rej(new Error(`no segment from session ${id}: ${session.state.status}`)));
        }, 2);
      });
      toSegment.push(firstSegment.get(id)! - lastByte);

      // cancel while it runs
      const f = follow(srv.port, id, (m) => m.type === 'cancelled');
      await f.ready;
      if (session.state.status !== 'processing') {
        // finished before we could cancel it (a faster machine): nothing to measure this time
        skipped++;
        f.close();
        continue;
      }
      const s0 = nowMs();
      await (await fetch(`${srv.url}/api/v1/video/status/${id}`)).text();
      statusRtt.push(nowMs() - s0);
      const c0 = nowMs();
      const res = await fetch(`${srv.url}/api/v1/video/cancel/${id}`, { method: 'POST' });
      await res.text();
      if (res.status !== 200) throw new Error(`cancel: ${res.status}`);
      cancelAck.push(nowMs() - c0);
      cancelEvent.push((await f.hit) - c0);
      f.close();
    }
  } finally {
    await srv.close();
  }

  // the engine alone: first segment
  const engine = createSignalEngine();
  const engineFirst: number[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      const t0 = nowMs();
      const job = engine.analyze({ type: 'highlights', file, params: { min_significance: 6, max_highlights: 10 } });
      await new Promise<void>((res) => {
        const sub = job.events.subscribe((ev) => {
          if (ev.type === 'segment') {
            engineFirst.push(nowMs() - t0);
            queueMicrotask(() => sub.unsubscribe());
            res();
          }
        });
      });
      job.cancel();
      await job.result.catch(() => undefined);
    }
  } finally {
    await engine.close();
  }
  const med = (xs: number[]) => summarize(xs).p50;
  const max = (xs: number[]) => summarize(xs).max;
  log(`cancel → 200: median ${med(cancelAck).toFixed(2)} ms; → cancelled event ${med(cancelEvent).toFixed(2)} ms; GET status ${med(statusRtt).toFixed(2)} ms`);
  log(`last byte → 202 ${med(ackAfterLastByte).toFixed(1)} ms; → first segment ${med(toSegment).toFixed(1)} ms; engine alone → first segment ${med(engineFirst).toFixed(1)} ms`);
  const n = `median of ${reps}`;
  const skipNote = skipped ? `; ${skipped} of ${reps} analyses ended before the cancel` : '';
  return [
    { bench: 'cancel', metric: `cancel request → 200 (${n})`, unit: 'ms', value: med(cancelAck), baseline: 'GET status round trip (same server)', baselineValue: med(statusRtt), better: 'lower', note: `max ${max(cancelAck).toFixed(2)} ms; the terminal event is fsynced to the journal before the answer; fetch client in the server's process${skipNote}` },
    { bench: 'cancel', metric: `cancel request → cancelled event on WS (${n})`, unit: 'ms', value: med(cancelEvent), baseline: 'GET status round trip (same server)', baselineValue: med(statusRtt), better: 'lower', note: `max ${max(cancelEvent).toFixed(2)} ms; the session turns cancelled at once (the engine's threads stop within 100 ms after); round trips are slow here because the analysis shares the 2 cores` },
    {
      bench: 'cancel', metric: `last uploaded byte → first segment event, 1080p 20 s (${n})`, unit: 'ms', value: med(toSegment), baseline: 'engine alone: analyze() → first segment', baselineValue: med(engineFirst), better: 'lower',
      note: `includes the 202 (last byte → 202 median ${med(ackAfterLastByte).toFixed(1)} ms, probe included), queueing and the journal; segment seen in the store as it is appended`,
    },
  ];
}
