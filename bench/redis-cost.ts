// What Redis mode costs one node: the real server in this process with REDIS_URL (ROLE=all, its
// own redis-server) against the same server in single-process mode (the embedded journal), on
// the same machine in the same run:
// - status reads of a completed session, driven by wrk -t1 -c50;
// - event delivery latency: 100 WebSocket + 20 SSE followers (a child process) of a session
//   whose events this process appends at 20 events/s; in Redis mode each event goes to the
//   session's Redis stream and comes back through the node's reader before it is fanned out.
import { startRedis } from '../test/helpers/redis.js';
import { nowMs, paced } from './child/proto.js';
import { Followers, type StepResult } from './followers.js';
import { SkipBench, type BenchOptions, type Row } from './report.js';
import { sleep, startBenchServer, testClip, uploadFile, waitStatus, type BenchServer } from './util.js';
import { hasWrk, wrk, type WrkResult } from './wrk.js';

type Mode = 'redis' | 'single';

interface Measured {
  reads: WrkResult & { serverCores: number };
  delivery: StepResult;
}

const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function measure(srv: BenchServer, opts: { readSeconds: number; eventSeconds: number }): Promise<Measured> {
  const clip = await testClip(6, 320, 240);
  const up = await uploadFile(srv.url, clip);
  if (up.status !== 202) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
  await waitStatus(srv.url, up.body.sessionId, (s) => s.status === 'completed');
  const url = `${srv.url}/api/v1/video/status/${up.body.sessionId}`;
  await wrk({ url, connections: 50, threads: 1, seconds: 1 }); // warm-up
  const c0 = ownCpu();
  const t0 = performance.now();
  const r = await wrk({ url, connections: 50, threads: 1, seconds: opts.readSeconds });
  const reads = { ...r, serverCores: ((ownCpu() - c0) * 1000) / (performance.now() - t0) };

  const session = await srv.server.service.store.create({ analysisType: 'highlights', params: {}, filename: null }, 'uploading');
  const followers = await Followers.start([{ mode: 'native', port: srv.port, sessionId: session.id, ws: 100, sse: 20 }]);
  try {
    await sleep(300);
    const produce = (step: number, rate: number, seconds: number) =>
      paced(rate, seconds, (i) => void session.append('upload', { receivedBytes: i + 1, totalBytes: 1e9, step, sentAt: nowMs() }));
    const delivery = await followers.step(produce, ownCpu, 0, 20, opts.eventSeconds, 1000);
    await session.transition('cancelled');
    return { reads, delivery };
  } finally {
    await followers.stop();
  }
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  if (!hasWrk()) throw new SkipBench('wrk is not installed (`bash scripts/setup.sh` installs it, or `apt-get install wrk`)');
  const redis = await startRedis().catch((err: Error) => {
    throw new SkipBench(err.message);
  });
  const opts = { readSeconds: quick ? 2 : 4, eventSeconds: quick ? 3 : 10 };
  const rounds = quick ? 1 : 2;
  const best: Partial<Record<Mode, Measured>> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['single', 'redis'] as Mode[]) {
        const srv = await startBenchServer(mode === 'redis' ? { REDIS_URL: redis.url, REDIS_PREFIX: `bench${round}:` } : {});
        try {
          const m = await measure(srv, opts);
          log(
            `${mode}: GET status ${m.reads.rps.toFixed(0)} req/s (p99 ${m.reads.p99.toFixed(2)} ms, server ${m.reads.serverCores.toFixed(2)} cores); ` +
              `delivery p50 ${m.delivery.p50.toFixed(2)} ms, p99 ${m.delivery.p99.toFixed(2)} ms, lost ${m.delivery.lost}`,
          );
          const b = best[mode];
          best[mode] = { reads: !b || m.reads.rps > b.reads.rps ? m.reads : b.reads, delivery: !b || m.delivery.p99 < b.delivery.p99 ? m.delivery : b.delivery };
        } finally {
          await srv.close();
        }
      }
    }
  } finally {
    await redis.stop();
  }
  const r = best.redis!;
  const s = best.single!;
  const baseline = 'single-process mode (embedded journal), same server';
  const size = 'completed session, c=50';
  return [
    {
      bench: 'redis-cost', metric: `GET status throughput, Redis mode (${size})`, unit: 'req/s', value: r.reads.rps, baseline, baselineValue: s.reads.rps, better: 'higher',
      note: `wrk -t1 -c50, best of ${rounds} ${opts.readSeconds}-s round${rounds > 1 ? 's' : ''}, server in the bench process (Redis mode ${r.reads.serverCores.toFixed(2)} cores, single ${s.reads.serverCores.toFixed(2)})`,
    },
    { bench: 'redis-cost', metric: `GET status p99 latency, Redis mode (${size})`, unit: 'ms', value: r.reads.p99, baseline, baselineValue: s.reads.p99, better: 'lower' },
    {
      bench: 'redis-cost', metric: 'event delivery latency p50, Redis mode (20 events/s, 120 followers)', unit: 'ms', value: r.delivery.p50, baseline, baselineValue: s.delivery.p50, better: 'lower',
      note: `100 WS + 20 SSE followers in a child process, ${opts.eventSeconds} s at 20 events/s appended in the server's process; lost: Redis mode ${r.delivery.lost}, single ${s.delivery.lost}`,
    },
    { bench: 'redis-cost', metric: 'event delivery latency p99, Redis mode (20 events/s, 120 followers)', unit: 'ms', value: r.delivery.p99, baseline, baselineValue: s.delivery.p99, better: 'lower' },
  ];
}
