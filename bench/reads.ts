// Reads of status and results at fixed concurrency: the real server (uWS + router + session
// store) against a bare uWS handler returning the same bytes (the ceiling) and the same
// endpoints on Fastify and node:http (the peers), which serialise the same session from the
// same store on every request, as the real route does. wrk drives the load: one wrk thread on
// one core, the server (single-threaded, in this process) on the other, so the server is the
// limit; its CPU use during each run is reported to show it.
import http from 'node:http';
import Fastify from 'fastify';
import uWS from 'uWebSockets.js';
import { isSessionId } from '../src/streams/store.js';
import type { VideoService } from '../src/streams/service.js';
import { SkipBench, type BenchOptions, type Row } from './report.js';
import { startBenchServer, testClip, uploadFile, waitStatus } from './util.js';
import { hasWrk, wrk, type WrkResult } from './wrk.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const STATUS_RE = /^\/api\/v1\/video\/status\/([^/?]+)$/;
const RESULTS_RE = /^\/api\/v1\/video\/results\/([^/?]+)$/;

/** What the real routes send for a completed session, built from the store on each call. */
async function body(service: VideoService, path: string): Promise<string | null> {
  let m = STATUS_RE.exec(path);
  if (m && isSessionId(m[1])) {
    const v = await service.status(m[1]);
    return v ? JSON.stringify(v) : null;
  }
  m = RESULTS_RE.exec(path);
  if (m && isSessionId(m[1])) {
    const s = await service.get(m[1]);
    const results = s && (await service.result(m[1]));
    return results ? JSON.stringify({ sessionId: m[1], status: s!.state.status, results }) : null;
  }
  return null;
}

interface Peer {
  name: string;
  port: number;
  close(): Promise<void>;
}

async function bareUws(bytes: Map<string, string>): Promise<Peer> {
  const app = uWS.App();
  app.get('/*', (res, req) => {
    const b = bytes.get(req.getUrl());
    res.cork(() => {
      if (b === undefined) res.writeStatus('404 Not Found').end();
      else res.writeStatus('200 OK').writeHeader('Content-Type', JSON_TYPE).end(b);
    });
  });
  const sock = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('bare uWS: cannot listen')))),
  );
  return {
    name: 'bare uWS, same bytes (ceiling)',
    port: uWS.us_socket_local_port(sock),
    close: async () => uWS.us_listen_socket_close(sock),
  };
}

async function fastify(service: VideoService): Promise<Peer> {
  const app = Fastify({ logger: false });
  const handler = async (req: { url: string }, reply: any) => {
    const b = await body(service, req.url);
    if (b === null) return reply.code(404).send();
    return reply.header('content-type', JSON_TYPE).send(b);
  };
  app.get('/api/v1/video/status/:id', handler);
  app.get('/api/v1/video/results/:id', handler);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return { name: 'Fastify 5 (peer)', port, close: () => app.close() };
}

async function nodeHttp(service: VideoService): Promise<Peer> {
  const server = http.createServer(async (req, res) => {
    const b = req.method === 'GET' ? await body(service, req.url ?? '') : null;
    if (b === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { name: 'node:http (peer)', port, close: () => new Promise((r) => server.close(() => r())) };
}

interface Measured extends WrkResult {
  /** CPU seconds of this process (where every server runs) per wall second of the run. */
  serverCores: number;
}

async function load(url: string, connections: number, seconds: number): Promise<Measured> {
  await wrk({ url, connections, threads: 1, seconds: 1 }); // warm-up (JIT, connection setup)
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await wrk({ url, connections, threads: 1, seconds });
  const cpu = process.cpuUsage(c0);
  return { ...r, serverCores: (cpu.user + cpu.system) / 1000 / (performance.now() - t0) };
}

export async function run({ quick, log }: BenchOptions): Promise<Row[]> {
  if (!hasWrk()) throw new SkipBench('wrk is not installed (`bash scripts/setup.sh` installs it, or `apt-get install wrk`)');
  const connections = 50;
  const seconds = quick ? 2 : 4;
  const rounds = quick ? 1 : 3;
  const srv = await startBenchServer();
  const peers: Peer[] = [];
  try {
    const clip = await testClip(6, 320, 240);
    const up = await uploadFile(srv.url, clip);
    if (up.status !== 202) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
    const id: string = up.body.sessionId;
    await waitStatus(srv.url, id, (s) => s.status === 'completed');
    const paths = { status: `/api/v1/video/status/${id}`, results: `/api/v1/video/results/${id}` };
    const bytes = new Map<string, string>();
    for (const p of Object.values(paths)) bytes.set(p, await (await fetch(srv.url + p)).text());
    for (const p of Object.values(paths)) {
      if ((await body(srv.server.service, p)) !== bytes.get(p)) throw new Error(`peers would not serve the same bytes as the server for ${p}`);
    }
    peers.push(await bareUws(bytes), await fastify(srv.server.service), await nodeHttp(srv.server.service));

    // Interleaved rounds, best round per target: the machine is shared, and drift in what else
    // runs would otherwise favour whichever target happened to run in a quiet moment.
    const targets = [{ name: 'ours', port: srv.port }, ...peers];
    const rows: Row[] = [];
    for (const [endpoint, path] of Object.entries(paths)) {
      const size = Buffer.byteLength(bytes.get(path)!);
      const best = new Map<string, Measured>();
      for (let round = 0; round < rounds; round++) {
        for (const t of targets) {
          const r = await load(`http://127.0.0.1:${t.port}${path}`, connections, seconds);
          if (r.rps > (best.get(t.name)?.rps ?? -1)) best.set(t.name, r);
        }
      }
      const line = (name: string, r: Measured) =>
        log(`${endpoint} (${size} B) ${name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, server ${r.serverCores.toFixed(2)} cores`);
      const ours = best.get('ours')!;
      line('ours', ours);
      const metric = (m: string) => `GET ${endpoint} ${m} (${size} B body, c=${connections})`;
      for (const peer of peers) {
        const r = best.get(peer.name)!;
        line(peer.name, r);
        rows.push(
          {
            bench: 'reads', metric: metric('throughput'), unit: 'req/s', value: ours.rps, baseline: peer.name, baselineValue: r.rps, better: 'higher',
            note: `server CPU during the run: ours ${ours.serverCores.toFixed(2)} cores, ${peer.name} ${r.serverCores.toFixed(2)}`,
          },
          { bench: 'reads', metric: metric('p99 latency'), unit: 'ms', value: ours.p99, baseline: peer.name, baselineValue: r.p99, better: 'lower' },
        );
      }
    }
    rows[0].note = `wrk -t1 -c${connections}, best of ${rounds} interleaved ${seconds}-s rounds per target (after a 1-s warm-up); ${rows[0].note}`;
    return rows;
  } finally {
    for (const p of peers) await p.close();
    await srv.close();
  }
}
