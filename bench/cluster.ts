// Fan-out through the cluster: two API nodes (`node dist/src/server/main.js`, ROLE=api, one
// redis-server), followers split across them (WebSocket and SSE, one child process per node),
// events produced by another process writing to the session's Redis stream as a worker does
// (child/cluster-producer.ts). Against socket.io 4 on two nodes joined by
// @socket.io/redis-streams-adapter (the peer its docs recommend for connection-state recovery),
// its followers split the same way, events emitted by a third socket.io process in the same
// adapter cluster: on both sides every event crosses Redis once and reaches both nodes.
//
// Same load on both sides: 20 events/s (delay at a light load), then the saturation ramp of the
// single-node fan-out (bench/followers.ts: up while p99 ≤ 50 ms, none lost, none dropped). The
// serving side's CPU is that of both nodes, the producer and redis-server.
import { join } from 'node:path';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { cpuSeconds, Followers, P99_LIMIT_MS, rampUp, type FollowerSpec, type Produce, type Ramp, type StepResult } from './followers.js';
import type { BenchOptions, Row } from './report.js';
import { BENCH_DIST, sleep, startChild, stopChild, type Child } from './util.js';

interface Side {
  followers: FollowerSpec[];
  producer: Child;
  /** Processes whose CPU is the serving side's. */
  pids: () => number[];
  close(): Promise<void>;
}

interface SideResult {
  fixed: StepResult;
  best: StepResult | null;
  failedAt: StepResult | null;
}

function producer(spec: { mode: 'native' | 'socketio'; redisUrl: string; prefix: string; dataDir: string; sessionId: string }): Child {
  return startChild(join(BENCH_DIST, 'child', 'cluster-producer.js'), [JSON.stringify(spec)]);
}

async function ours(ws: number, sse: number): Promise<Side> {
  const cluster: Cluster = await startCluster({ api: 2, workers: 0, env: { LOG_LEVEL: 'warn', MAX_UPLOAD_BYTES: '4GiB' } });
  let prod: Child | null = null;
  try {
    // the session: a tus upload left open (status uploading), whose log the producer writes to
    const res = await fetch(`${cluster.api[0].url}/api/v1/video/uploads`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(2 ** 31) } });
    if (res.status !== 201) throw new Error(`tus creation: ${res.status} ${await res.text()}`);
    const sessionId = res.headers.get('location')!.split('/').pop()!;
    prod = producer({ mode: 'native', redisUrl: cluster.redis.url, prefix: cluster.prefix, dataDir: cluster.dataDir, sessionId });
    await prod.message('READY', 30_000);
    const p = prod;
    return {
      followers: cluster.api.map((n) => ({ mode: 'native', port: n.port, sessionId, ws: ws / 2, sse: sse / 2 })),
      producer: p,
      pids: () => [...cluster.api.map((n) => n.proc!.pid!), p.proc.pid!, cluster.redis.proc.pid!],
      close: async () => {
        await stopChild(p);
        await cluster.stop();
      },
    };
  } catch (err) {
    if (prod) await stopChild(prod);
    await cluster.stop();
    throw err;
  }
}

async function socketio(ws: number, sse: number): Promise<Side> {
  const redis: TestRedis = await startRedis();
  const nodes: Child[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const n = startChild(join(BENCH_DIST, 'child', 'sio-node.js'), [JSON.stringify({ redisUrl: redis.url })]);
      nodes.push(n);
      ports.push((await n.message('READY', 30_000)).port);
    }
    const sessionId = 'V1StGXR8_Z5jdHi6B-myT';
    const p = producer({ mode: 'socketio', redisUrl: redis.url, prefix: '', dataDir: '', sessionId });
    nodes.push(p);
    await p.message('READY', 30_000);
    return {
      followers: ports.map((port) => ({ mode: 'socketio', port, sessionId, ws: (ws + sse) / 2, sse: 0 })),
      producer: p,
      pids: () => [...nodes.map((n) => n.proc.pid!), redis.proc.pid!],
      close: async () => {
        for (const n of nodes) await stopChild(n);
        await redis.stop();
      },
    };
  } catch (err) {
    for (const n of nodes) await stopChild(n);
    await redis.stop();
    throw err;
  }
}

async function drive(side: Side, fixed: { rate: number; seconds: number }, ramp: Ramp, log: (l: string) => void): Promise<SideResult> {
  const produce: Produce = async (step, rate, seconds) => {
    side.producer.send(`PRODUCE ${step} ${rate} ${seconds}`);
    return side.producer.message('DONE', (seconds + 60) * 1000);
  };
  const cpu = () => side.pids().reduce((s, pid) => s + cpuSeconds(pid), 0);
  const followers = await Followers.start(side.followers);
  try {
    await sleep(500);
    const f = await followers.step(produce, cpu, 0, fixed.rate, fixed.seconds, 2000);
    log(`${fixed.rate} events/s: p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, max ${f.max.toFixed(1)} ms, lost ${f.lost}, dropped ${f.dropped}`);
    const { best, failedAt } = await rampUp(followers, produce, cpu, ramp, 1, log);
    side.producer.send('FINISH');
    await side.producer.message('FINISHED', 30_000);
    return { fixed: f, best, failedAt };
  } finally {
    await followers.stop();
    await side.close();
  }
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const ws = quick ? 160 : 400;
  const sse = quick ? 40 : 100;
  const fixed = { rate: 20, seconds: quick ? 3 : 10 };
  const ramp: Ramp = quick ? { from: 40, factor: 2, seconds: 1.5, graceMs: 500, maxRate: 3200 } : { from: 40, factor: 1.41, seconds: 3, graceMs: 1000, maxRate: 6400 };
  const rounds = quick ? 1 : 2;
  const results: Record<'ours' | 'socket.io', SideResult[]> = { ours: [], 'socket.io': [] };
  for (let round = 0; round < rounds; round++) {
    results.ours.push(await drive(await ours(ws, sse), fixed, ramp, (l) => log(`ours ${l}`)));
    results['socket.io'].push(await drive(await socketio(ws, sse), fixed, ramp, (l) => log(`socket.io ${l}`)));
  }
  const peak = (r: SideResult) => (r.best ? r.best.delivered / r.best.spanS : 0);
  const best = (side: 'ours' | 'socket.io') => results[side].reduce((a, b) => (peak(b) > peak(a) ? b : a));
  // the light-load figures: the round with the lower p99 on each side
  const calm = (side: 'ours' | 'socket.io') => results[side].reduce((a, b) => (b.fixed.p99 < a.fixed.p99 ? b : a)).fixed;
  const o = calm('ours');
  const s = calm('socket.io');
  const followers = ws + sse;
  const baseline = `socket.io 4, 2 nodes + @socket.io/redis-streams-adapter (${followers} websocket clients)`;
  const desc = `2 API nodes, ${ws} WS + ${sse} SSE split across them, events from a separate producer process through Redis, ${fixed.rate} events/s for ${fixed.seconds} s`;
  const usPerDelivery = (r: StepResult) => (r.serverCpuS * 1e6) / r.delivered;
  const at = (r: SideResult) => (r.best ? `${r.best.rate} events/s (p99 ${r.best.p99.toFixed(1)} ms; serving side ${r.best.serverCores.toFixed(2)} cores)` : 'no step passed');
  const stop = (r: SideResult) => (r.failedAt ? `${r.failedAt.rate} events/s: ${r.failedAt.failed}` : `none up to ${ramp.maxRate} events/s`);
  return [
    {
      bench: 'cluster', metric: `delivery latency p50 at ${fixed.rate} events/s`, unit: 'ms', value: o.p50, baseline, baselineValue: s.p50, better: 'lower',
      note: `${desc}; ${o.delivered} deliveries (socket.io ${s.delivered}); best of ${rounds} round${rounds > 1 ? 's' : ''}`,
    },
    { bench: 'cluster', metric: `delivery latency p99 at ${fixed.rate} events/s`, unit: 'ms', value: o.p99, baseline, baselineValue: s.p99, better: 'lower' },
    {
      bench: 'cluster', metric: `events lost at ${fixed.rate} events/s (all followers)`, unit: 'events', value: o.lost, baseline, baselineValue: s.lost, better: 'lower',
      note: `followers dropped: ours ${o.dropped}, socket.io ${s.dropped}`,
    },
    {
      bench: 'cluster', metric: `serving CPU per delivery at ${fixed.rate} events/s`, unit: 'µs', value: usPerDelivery(o), baseline, baselineValue: usPerDelivery(s), better: 'lower',
      note: 'CPU of both nodes, the producer and redis-server over the step / deliveries',
    },
    {
      bench: 'cluster', metric: `highest sustained deliveries (p99 ≤ ${P99_LIMIT_MS} ms, none lost, ${followers} followers on 2 nodes)`, unit: 'deliveries/s', value: peak(best('ours')), baseline, baselineValue: peak(best('socket.io')), better: 'higher',
      note: `rate ×${ramp.factor} per ${ramp.seconds}-s step from ${ramp.from} events/s; ours passed at ${at(best('ours'))}, stopped at ${stop(best('ours'))}; socket.io passed at ${at(best('socket.io'))}, stopped at ${stop(best('socket.io'))}`,
    },
  ];
}
