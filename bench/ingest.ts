// Upload ingest over loopback: a 1 GiB (--quick: 64 MiB) video as one multipart POST and as a
// tus upload (POST + PATCH chunks), into the real server in a child process: MB/s to the
// acknowledgement and the server's peak RSS. Ceilings: what reaches the disk through a socket
// on this machine (a minimal uWS handler writing the same bytes, sent the same way, straight to
// a file), and the same bytes copied file to file with Node streams (no socket). Peer (tus):
// @tus/server with @tus/file-store.
//
// The page cache is handled the same way for every contender: the source file is read into it
// first, and before each contender the previous one's file is deleted and `sync` waits until
// nothing dirty is left, so nobody pays for another's writeback; nobody fsyncs (the server
// does not fsync uploads). Interleaved rounds, fastest per contender.
//
// The file is a real video: 1080p rawvideo in Matroska, as many frames as make the size, so
// the server's final probe accepts it and the acknowledgement is the normal one (the real
// server probes the file after the last byte before it answers; @tus/server does not).
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { BenchOptions, Row } from './report.js';
import { BENCH_DIST, ffmpeg, mediaDir, memoryOf, ROOT, startChild, stopChild, tempDir, type Child } from './util.js';

const MiB = 1024 * 1024;

const FRAME_BYTES = 1920 * 1080 * 1.5;
/**
 * uWebSockets.js answers a request whose Content-Length has 10 digits (>= 1e9 bytes) with an
 * empty reply, before any handler runs: a multipart body must stay below that.
 */
const UWS_MAX_CONTENT_LENGTH = 999_999_999;

/** 1080p rawvideo in Matroska: `frames` frames of testsrc2 (about 3 MB each), cached. */
async function rawVideo(frames: number): Promise<string> {
  const path = join(mediaDir(), `raw_1080p_${frames}f.mkv`);
  if (!existsSync(path)) {
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-frames:v', String(frames), '-c:v', 'rawvideo', '-pix_fmt', 'yuv420p', `${path}.${process.pid}.tmp.mkv`]);
    const { renameSync } = await import('node:fs');
    renameSync(`${path}.${process.pid}.tmp.mkv`, path);
  }
  return path;
}

export interface Timing {
  /** Request start to the last byte handed to the kernel, and to the answer. */
  lastByteS: number;
  ackS: number;
  status: number;
  body: string;
}

/** One HTTP request whose body is `parts` (strings and file ranges) streamed in order. */
function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  parts: (string | { file: string; start: number; end: number })[],
): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let lastByte = NaN;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ lastByteS: (lastByte - t0) / 1000, ackS: (performance.now() - t0) / 1000, status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.on('finish', () => (lastByte = performance.now()));
    const next = (i: number): void => {
      if (i === parts.length) return void req.end();
      const p = parts[i];
      if (typeof p === 'string') {
        req.write(p);
        return next(i + 1);
      }
      const rs = createReadStream(p.file, { start: p.start, end: p.end - 1, highWaterMark: MiB });
      rs.on('error', reject);
      rs.on('end', () => next(i + 1));
      rs.pipe(req, { end: false });
    };
    next(0);
  });
}

export async function multipart(port: number, file: string, size: number): Promise<Timing> {
  const boundary = '----vasbench' + Date.now();
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="analysis_type"\r\n\r\nhighlights\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mkv"\r\nContent-Type: video/x-matroska\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const length = Buffer.byteLength(head) + size + Buffer.byteLength(tail);
  const r = await request(port, 'POST', '/api/v1/video/upload', { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': length }, [head, { file, start: 0, end: size }, tail]);
  if (r.status !== 202) throw new Error(`multipart upload: ${r.status} ${r.body}`);
  return r;
}

/** tus creation (no body); resolves with the upload's path from Location. */
function create(port: number, base: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers = { 'Tus-Resumable': '1.0.0', 'Upload-Length': size, 'Upload-Metadata': `filename ${Buffer.from('big.mkv').toString('base64')}`, 'Content-Length': 0 };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: base, agent: false, headers }, (res) => {
      res.resume();
      const loc = res.headers.location;
      if (res.statusCode !== 201 || !loc) reject(new Error(`tus creation: ${res.statusCode}`));
      else resolve(loc.startsWith('http') ? new URL(loc).pathname : loc);
    });
    req.on('error', reject);
    req.end();
  });
}

/** PATCH requests of `chunk` bytes in order, each with its Upload-Offset; times from the first request to the last answer. */
async function patches(port: number, path: string, file: string, size: number, chunk: number, t0 = performance.now()): Promise<Timing> {
  let last!: Timing;
  let lastStart = t0;
  for (let off = 0; off < size; off += chunk) {
    const end = Math.min(size, off + chunk);
    lastStart = performance.now();
    const headers = { 'Tus-Resumable': '1.0.0', 'Upload-Offset': off, 'Content-Type': 'application/offset+octet-stream', 'Content-Length': end - off };
    last = await request(port, 'PATCH', path, headers, [{ file, start: off, end }]);
    if (last.status !== 204) throw new Error(`PATCH ${path} at ${off}: ${last.status} ${last.body}`);
  }
  const shift = (lastStart - t0) / 1000;
  return { ...last, lastByteS: last.lastByteS + shift, ackS: last.ackS + shift };
}

/** tus 1.0.0 by hand: creation, then PATCH chunks in order; times from the POST to the last PATCH's answer. */
async function tus(port: number, base: string, file: string, size: number, chunk: number): Promise<Timing> {
  const t0 = performance.now();
  return patches(port, await create(port, base, size), file, size, chunk, t0);
}

interface Measured extends Timing {
  peakRss: number;
  idleRss: number;
}

/** The real server (`npm start`'s entry point) in a child process with its own data folder. */
async function realServer(): Promise<{ child: Child; port: number; dir: string }> {
  const dir = tempDir('vas-bench-ingest-');
  const child = startChild(join(ROOT, 'dist/src/server/main.js'), [], { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, MAX_UPLOAD_BYTES: '4GiB' });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(child.output());
      if (m) {
        clearInterval(t);
        resolve(Number(m[1]));
      }
    }, 20);
    child.exited.then(() => (clearInterval(t), reject(new Error(`server exited:\n${child.output()}`))));
  });
  return { child, port, dir };
}

async function tusPeer(): Promise<{ child: Child; port: number; dir: string }> {
  const dir = tempDir('vas-bench-tuspeer-');
  const child = startChild(join(BENCH_DIST, 'child', 'tus-peer.js'), [dir]);
  const { port } = await child.message('READY', 30_000);
  return { child, port, dir };
}

async function uwsSink(): Promise<{ child: Child; port: number; dir: string }> {
  const dir = tempDir('vas-bench-sink-');
  const child = startChild(join(BENCH_DIST, 'child', 'uws-sink.js'), [join(dir, 'upload.bin')]);
  const { port } = await child.message('READY', 30_000);
  return { child, port, dir };
}

async function measure(start: () => Promise<{ child: Child; port: number; dir: string }>, upload: (port: number) => Promise<Timing>): Promise<Measured> {
  const s = await start();
  try {
    const idle = memoryOf(s.child.proc.pid!).rss;
    const t = await upload(s.port);
    return { ...t, peakRss: memoryOf(s.child.proc.pid!).peak, idleRss: idle };
  } finally {
    await stopChild(s.child);
    rmSync(s.dir, { recursive: true, force: true });
  }
}

async function fileCopy(file: string): Promise<Measured> {
  const dir = tempDir('vas-bench-disk-');
  const c = startChild(join(BENCH_DIST, 'child', 'disk-write.js'), [file, join(dir, 'copy.bin')]);
  try {
    const r = await c.message('RESULT', 600_000);
    await c.exited;
    return { lastByteS: r.seconds, ackS: r.seconds, status: 0, body: '', peakRss: r.peakRss, idleRss: NaN };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  const file = await rawVideo(Math.ceil((quick ? 64 * MiB : 1024 * MiB) / FRAME_BYTES));
  const size = statSync(file).size;
  // the multipart upload: the same, or as many frames as fit under uWS's Content-Length limit
  const mpFile = size + 4096 <= UWS_MAX_CONTENT_LENGTH ? file : await rawVideo(Math.floor((UWS_MAX_CONTENT_LENGTH - 1 * MiB) / FRAME_BYTES));
  const mpSize = statSync(mpFile).size;
  const chunk = 32 * MiB;
  const rounds = quick ? 1 : 2;
  const MB = size / 1e6;
  const mpMB = mpSize / 1e6;
  const label = `${(size / MiB).toFixed(0)} MiB`;
  const mpLabel = `${(mpSize / MiB).toFixed(0)} MiB`;
  for (const f of new Set([file, mpFile])) await new Promise<void>((r, j) => createReadStream(f).on('data', () => {}).on('end', r).on('error', j));

  const contenders: Record<string, { MB: number; run: () => Promise<Measured> }> = {
    copy: { MB, run: () => fileCopy(file) },
    'sink one': { MB: mpMB, run: () => measure(uwsSink, (port) => patches(port, '/upload', mpFile, mpSize, mpSize)) },
    multipart: { MB: mpMB, run: () => measure(realServer, (port) => multipart(port, mpFile, mpSize)) },
    'sink chunks': { MB, run: () => measure(uwsSink, (port) => patches(port, '/upload', file, size, chunk)) },
    tus: { MB, run: () => measure(realServer, (port) => tus(port, '/api/v1/video/uploads', file, size, chunk)) },
    peer: { MB, run: () => measure(tusPeer, (port) => tus(port, '/files', file, size, chunk)) },
  };
  const best = new Map<string, Measured>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, c] of Object.entries(contenders)) {
      execFileSync('sync');
      const r = await c.run();
      log(`round ${round + 1} ${name}: ${(c.MB / r.ackS).toFixed(0)} MB/s, last byte → answer ${((r.ackS - r.lastByteS) * 1000).toFixed(0)} ms, peak RSS ${(r.peakRss / MiB).toFixed(0)} MiB`);
      if (r.ackS < (best.get(name)?.ackS ?? Infinity)) best.set(name, r);
    }
  }
  const get = (name: string) => best.get(name)!;
  const rate = (name: string) => contenders[name].MB / get(name).ackS;
  const ack = (name: string) => ((get(name).ackS - get(name).lastByteS) * 1000).toFixed(0);

  const copy = 'Node streams file → file (no socket)';
  const sinkOne = 'minimal uWS handler → file, one request (ceiling)';
  const sinkChunks = `minimal uWS handler → file, ${chunk / MiB} MiB requests (ceiling)`;
  const peerName = '@tus/server 2 + @tus/file-store (peer)';
  const mpMetric = `multipart ${mpLabel} upload`;
  const tusMetric = `tus ${label} upload (${chunk / MiB} MiB PATCHes)`;
  return [
    {
      bench: 'ingest', metric: mpMetric, unit: 'MB/s', value: rate('multipart'), baseline: sinkOne, baselineValue: rate('sink one'), better: 'higher',
      note: `to the 202; last byte → 202 ${ack('multipart')} ms (includes the probe of the file). 1080p rawvideo/Matroska, page-cached source, \`sync\` before each contender, no fsync on any side; best of ${rounds} interleaved round${rounds > 1 ? 's' : ''}${mpFile === file ? '' : `; not ${label}: uWS gives an empty reply to a Content-Length of 1e9 bytes or more, so multipart uploads that large fail (MAX_UPLOAD_BYTES defaults to 2 GiB)`}`,
    },
    { bench: 'ingest', metric: mpMetric, unit: 'MB/s', value: rate('multipart'), baseline: copy, baselineValue: rate('copy'), better: 'higher' },
    { bench: 'ingest', metric: `multipart ${mpLabel} peak server RSS`, unit: 'MiB', value: get('multipart').peakRss / MiB, baseline: sinkOne, baselineValue: get('sink one').peakRss / MiB, better: 'lower' },
    {
      bench: 'ingest', metric: tusMetric, unit: 'MB/s', value: rate('tus'), baseline: sinkChunks, baselineValue: rate('sink chunks'), better: 'higher',
      note: `to the last 204; last byte → 204 ${ack('tus')} ms (ours probes before answering), peer ${ack('peer')} ms, uWS handler ${ack('sink chunks')} ms`,
    },
    { bench: 'ingest', metric: tusMetric, unit: 'MB/s', value: rate('tus'), baseline: peerName, baselineValue: rate('peer'), better: 'higher' },
    { bench: 'ingest', metric: `tus ${label} peak server RSS`, unit: 'MiB', value: get('tus').peakRss / MiB, baseline: peerName, baselineValue: get('peer').peakRss / MiB, better: 'lower' },
  ];
}
