// Load generator child for bench/reads.ts: runs autocannon against one URL in its own process
// (so it does not share an event loop with the server) and prints `RESULT <json>`.
//
//   node dist/bench/child/load.js '{"url":"…","connections":50,"seconds":5}'
// @ts-expect-error autocannon ships no type declarations
import autocannon from 'autocannon';
import { emit, summarize } from './proto.js';

interface Spec {
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds?: number;
}

const spec = JSON.parse(process.argv[2]) as Spec;

// autocannon's own percentiles are whole milliseconds (HDR histogram of integers); the
// response event carries the exact duration, so the percentiles are computed here.
function once(seconds: number, samples: number[] | null): Promise<any> {
  return new Promise((resolve, reject) => {
    const inst = autocannon({ url: spec.url, connections: spec.connections, duration: seconds, pipelining: 1 }, (err: Error | null, res: any) =>
      err ? reject(err) : resolve(res),
    );
    if (samples) inst.on('response', (_c: unknown, status: number, _bytes: number, ms: number) => status < 300 && samples.push(ms));
  });
}

if (spec.warmupSeconds) await once(spec.warmupSeconds, null);
const samples: number[] = [];
const r = await once(spec.seconds, samples);
const lat = summarize(samples);
emit('RESULT', {
  rps: r.requests.average,
  total: r.requests.total,
  p50: lat.p50,
  p99: lat.p99,
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
  bytesPerRequest: r.requests.total ? r.throughput.total / r.requests.total : 0,
});
process.exit(0);
