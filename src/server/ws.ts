// WebSocket at /api/v1/video/ws. Each session is a uWS pub/sub topic: its events are
// serialised once and fanned out in native code. Subscribing replays the log after `since`
// straight to the socket and joins the topic in the same synchronous step, so no event can be
// published between the two (nothing lost or doubled at the seam). A socket over the
// backpressure limit is closed rather than allowed to grow the server's memory; the client
// resubscribes with `since`.
import type { Subscription } from 'rxjs';
import uWS from 'uWebSockets.js';
import type { SessionEvent } from '../streams/events.js';
import type { VideoService } from '../streams/service.js';
import type { Session } from '../streams/session.js';
import { isSessionId } from '../streams/store.js';
import type { OriginPolicy } from './cors.js';
import { toHttpError } from './errors.js';
import type { Ctx } from './http.js';

interface SocketData {
  subscriptions: Set<string>;
  closed: boolean;
  /** The socket's messages are handled one after another (a lookup may wait for the store). */
  chain: Promise<void>;
}

export interface WsOptions {
  maxBackpressure?: number;
  maxSubscriptionsPerSocket?: number;
}

const topicOf = (id: string) => `session/${id}`;

export function wsFrame(sessionId: string, ev: SessionEvent): string {
  return JSON.stringify({ sessionId, seq: ev.seq, type: ev.type, data: ev.data });
}

function errorFrame(code: string, message: string, sessionId?: string): string {
  return JSON.stringify({ type: 'error', ...(sessionId ? { sessionId } : {}), error: { code, message } });
}

export function registerWs(
  app: uWS.TemplatedApp,
  service: VideoService,
  authorize: (ctx: Ctx, allowQueryToken: boolean) => boolean,
  originAllowed: OriginPolicy,
  opts: WsOptions = {},
): { count(): number } {
  const maxSubs = opts.maxSubscriptionsPerSocket ?? 1000;
  // One publisher per session that has WebSocket followers; it ends with the session.
  const publishers = new Map<string, Subscription>();
  let sockets = 0;

  const ensurePublisher = (session: Session) => {
    if (publishers.has(session.id) || session.terminal) return;
    const topic = topicOf(session.id);
    const sub = session.eventsSince(session.lastSeq).subscribe({
      next: (ev) => app.publish(topic, wsFrame(session.id, ev)),
      complete: () => publishers.delete(session.id),
    });
    if (!sub.closed) publishers.set(session.id, sub);
  };

  const subscribe = async (ws: uWS.WebSocket<SocketData>, sessionId: unknown, since: unknown) => {
    if (typeof sessionId !== 'string' || !isSessionId(sessionId)) {
      ws.cork(() => ws.send(errorFrame('not_found', 'No such session', typeof sessionId === 'string' ? sessionId : undefined)));
      return;
    }
    let session: Session | undefined;
    try {
      session = await service.get(sessionId);
    } catch (err) {
      const e = toHttpError(err);
      if (!ws.getUserData().closed) ws.cork(() => ws.send(errorFrame(e.code, e.status === 500 ? 'Internal error' : e.message, sessionId)));
      return;
    }
    if (ws.getUserData().closed) return;
    if (!session) return void ws.cork(() => ws.send(errorFrame('not_found', 'No such session', sessionId)));
    if (since !== undefined && since !== null && (typeof since !== 'number' || !Number.isInteger(since) || since < 0)) {
      return void ws.cork(() => ws.send(errorFrame('bad_request', '"since" must be a non-negative integer', sessionId)));
    }
    const data = ws.getUserData();
    if (!data.subscriptions.has(sessionId) && data.subscriptions.size >= maxSubs) {
      return void ws.cork(() => ws.send(errorFrame('bad_request', `At most ${maxSubs} subscriptions per connection`, sessionId)));
    }
    ensurePublisher(session);
    const topic = topicOf(sessionId);
    ws.unsubscribe(topic);
    ws.cork(() => {
      for (const ev of session.history(Math.min(Number(since ?? 0), session.lastSeq))) {
        if (data.closed) return;
        ws.send(wsFrame(sessionId, ev));
      }
    });
    if (data.closed) return;
    data.subscriptions.add(sessionId);
    if (!session.terminal) ws.subscribe(topic);
  };

  const handle = async (ws: uWS.WebSocket<SocketData>, msg: { op?: unknown; sessionId?: unknown; since?: unknown } | null) => {
    if (!msg) return void ws.cork(() => ws.send(errorFrame('bad_request', 'Messages must be JSON objects like {"op":"subscribe","sessionId":"…"}')));
    if (msg.op === 'subscribe') return subscribe(ws, msg.sessionId, msg.since);
    ws.cork(() => {
      if (msg.op === 'unsubscribe') {
        if (typeof msg.sessionId !== 'string') return void ws.send(errorFrame('bad_request', '"sessionId" is required'));
        ws.getUserData().subscriptions.delete(msg.sessionId);
        ws.unsubscribe(topicOf(msg.sessionId));
      } else if (msg.op === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else ws.send(errorFrame('bad_request', `Unknown op ${JSON.stringify(msg.op ?? null)}; use "subscribe" or "unsubscribe"`));
    });
  };

  app.ws<SocketData>('/api/v1/video/ws', {
    maxPayloadLength: 16 * 1024,
    maxBackpressure: opts.maxBackpressure ?? 1 << 20,
    closeOnBackpressureLimit: 1,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const headers: Record<string, string> = {};
      req.forEach((k, v) => (headers[k] = v));
      const ctx = { headers, query: new URLSearchParams(req.getQuery() ?? '') } as Ctx;
      // Browsers send the page's Origin; a page of another site must not ride on this one's
      // access (cross-site WebSocket hijacking).
      if (!originAllowed(headers['origin'], headers['host'])) {
        res.writeStatus('403 Forbidden').writeHeader('Content-Type', 'application/json').end(
          JSON.stringify({ error: { code: 'forbidden', message: 'This origin may not open a WebSocket here (see CORS_ORIGINS)' } }),
        );
        return;
      }
      if (!authorize(ctx, true)) {
        res.writeStatus('401 Unauthorized').writeHeader('Content-Type', 'application/json').end(
          JSON.stringify({ error: { code: 'unauthorized', message: 'Missing or wrong bearer token' } }),
        );
        return;
      }
      res.upgrade<SocketData>(
        { subscriptions: new Set(), closed: false, chain: Promise.resolve() },
        headers['sec-websocket-key'],
        headers['sec-websocket-protocol'] ?? '',
        headers['sec-websocket-extensions'] ?? '',
        context,
      );
    },
    open: () => {
      sockets++;
    },
    message: (ws, message, isBinary) => {
      // Read now (uWS reuses the buffer); handled after the socket's earlier messages, whose
      // lookups may still wait for the store: answers keep the order of the messages.
      let msg: { op?: unknown; sessionId?: unknown; since?: unknown } | null = null;
      try {
        if (isBinary) throw new Error('binary');
        msg = JSON.parse(Buffer.from(message).toString('utf8'));
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
      } catch {
        msg = null;
      }
      const data = ws.getUserData();
      data.chain = data.chain.then(() => (data.closed ? undefined : handle(ws, msg))).catch(() => {});
    },
    close: (ws) => {
      sockets--;
      ws.getUserData().closed = true;
    },
  });

  return { count: () => sockets };
}
