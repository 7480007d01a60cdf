// Followers of one session's live log with the stock clients, as the cluster tests use them:
// an `eventsource` EventSource (it reconnects by itself with Last-Event-ID) and a `ws` socket that
// resubscribes with `since` = the last seq it got whenever its connection drops. Each keeps
// every event it received, duplicates included, so a test can assert no gap and none twice.
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

export interface LogEvent {
  seq: number;
  type: string;
  data: any;
}

export interface Follower {
  events: LogEvent[];
  /** Connections opened after the first one (reconnects). */
  reconnects: number;
  /** Resolves with the events once the terminal event arrived. */
  done: Promise<LogEvent[]>;
  close(): void;
}

const TERMINAL = ['completed', 'failed', 'cancelled'];
const TYPES = ['status', 'upload', 'progress', 'segment', ...TERMINAL];

export function followSse(base: string, sessionId: string): Follower {
  const es = new EventSource(`${base}/api/v1/video/events/${sessionId}`);
  let opens = 0;
  const f: Follower = { events: [], reconnects: 0, done: null as unknown as Promise<LogEvent[]>, close: () => es.close() };
  f.done = new Promise((resolve, reject) => {
    es.onopen = () => {
      if (opens++ > 0) f.reconnects++;
    };
    for (const type of TYPES) {
      es.addEventListener(type, (e: MessageEvent) => {
        f.events.push({ seq: Number(e.lastEventId), type, data: JSON.parse(e.data) });
        if (TERMINAL.includes(type)) {
          es.close();
          resolve(f.events);
        }
      });
    }
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) reject(new Error(`SSE follower of ${sessionId} closed for good after ${f.events.length} events`));
    };
  });
  return f;
}

export function followWs(base: string, sessionId: string): Follower {
  let ws: WebSocket | null = null;
  let closed = false;
  let opens = 0;
  const f: Follower = {
    events: [],
    reconnects: 0,
    done: null as unknown as Promise<LogEvent[]>,
    close: () => {
      closed = true;
      ws?.terminate();
    },
  };
  f.done = new Promise((resolve, reject) => {
    const connect = () => {
      if (closed) return;
      const sock = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/video/ws`);
      ws = sock;
      sock.on('open', () => {
        if (opens++ > 0) f.reconnects++;
        const since = f.events.at(-1)?.seq ?? null;
        sock.send(JSON.stringify({ op: 'subscribe', sessionId, since }));
      });
      sock.on('message', (raw) => {
        const m = JSON.parse(String(raw));
        if (m.type === 'error') return reject(new Error(`WS follower of ${sessionId}: ${JSON.stringify(m.error)}`));
        if (m.sessionId !== sessionId) return;
        f.events.push({ seq: m.seq, type: m.type, data: m.data });
        if (TERMINAL.includes(m.type)) {
          f.close();
          resolve(f.events);
        }
      });
      sock.on('error', () => {});
      // like a client's reconnect loop: a short pause, then through the balancer again
      sock.on('close', () => setTimeout(connect, 200));
    };
    connect();
  });
  return f;
}

/** The seq numbers that are missing from 1..last or came more than once ('' when none). */
export function gapsAndDuplicates(events: LogEvent[]): string {
  const seqs = events.map((e) => e.seq);
  const dup = seqs.filter((s, i) => seqs.indexOf(s) !== i);
  const last = Math.max(0, ...seqs);
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((s) => !seqs.includes(s));
  const order = seqs.every((s, i) => i === 0 || s > seqs[i - 1]) ? '' : ' out of order';
  return [dup.length ? `duplicates ${dup.slice(0, 10).join(',')}` : '', missing.length ? `missing ${missing.slice(0, 10).join(',')}` : '', order].filter(Boolean).join('; ');
}
