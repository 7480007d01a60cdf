// The producer of the cluster fan-out benchmark (bench/cluster.ts), a process of its own as a
// worker is: on `PRODUCE <step> <rate> <seconds>` it sends that many events at that rate, each
// carrying `sentAt` and `step`, and prints `DONE {"n","spanS"}`; on `FINISH` it ends the log
// (terminal event) and prints `FINISHED {}`.
// - mode "socketio": a socket.io server with no clients of its own, joined to the edge nodes by
//   @socket.io/redis-streams-adapter, emitting to the room (every event crosses Redis).
// - mode "native": the service's Redis backend (what a ROLE=worker node writes with), appending
//   `upload` events to the session, which the API nodes read from its Redis stream.
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { emit, nowMs, onParentLine, paced } from './proto.js';

interface Spec {
  mode: 'native' | 'socketio';
  redisUrl: string;
  prefix: string;
  /** The cluster's DATA_DIR (native). */
  dataDir: string;
  sessionId: string;
}

interface Sink {
  send(i: number, step: number): void;
  finish(): Promise<void>;
}

const spec = JSON.parse(process.argv[2]) as Spec;

async function socketioSink(): Promise<Sink> {
  const io = new Server(http.createServer(), { serveClient: false, adapter: createAdapter(new Redis(spec.redisUrl)) });
  let seq = 1;
  const room = spec.sessionId;
  const event = (type: string, data: Record<string, unknown>) => io.to(room).emit('event', { sessionId: room, seq: ++seq, type, data });
  return {
    send: (i, step) => event('upload', { receivedBytes: i + 1, totalBytes: 1e9, step, sentAt: nowMs() }),
    finish: async () => void event('cancelled', {}),
  };
}

async function nativeSink(): Promise<Sink> {
  const { openProducerSession } = await import('./cluster-session.js');
  const session = await openProducerSession(spec);
  return {
    send: (i, step) => void session.append('upload', { receivedBytes: i + 1, totalBytes: 1e9, step, sentAt: nowMs() }),
    finish: () => session.close(),
  };
}

const sink = spec.mode === 'socketio' ? await socketioSink() : await nativeSink();
emit('READY', {});
let queue = Promise.resolve();
onParentLine((line) => {
  queue = queue.then(async () => {
    const m = /^PRODUCE (\d+) ([\d.]+) ([\d.]+)$/.exec(line);
    if (m) {
      const step = Number(m[1]);
      emit('DONE', await paced(Number(m[2]), Number(m[3]), (i) => sink.send(i, step)));
    } else if (line === 'FINISH') {
      await sink.finish();
      emit('FINISHED', {});
    }
  });
});
