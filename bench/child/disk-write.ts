// The no-socket baseline of the ingest benchmark: the same bytes read from the source file and
// written to a new file with Node streams, in its own process. Prints `RESULT {"seconds":…}`.
//
//   node dist/bench/child/disk-write.js <source> <destination>
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { emit } from './proto.js';

const t0 = performance.now();
// peak RSS: getrusage's ru_maxrss (KiB on Linux)
await pipeline(createReadStream(process.argv[2], { highWaterMark: 1 << 20 }), createWriteStream(process.argv[3]));
emit('RESULT', { seconds: (performance.now() - t0) / 1000, peakRss: process.resourceUsage().maxRSS * 1024 });
