// Server-Sent Events: GET /api/v1/video/events/:sessionId. Replays the session's log after
// Last-Event-ID (or ?lastEventId=) and then streams live events, through the session's one
// replay-then-live cursor; heartbeats keep idle connections open; the stream ends after the
// terminal event. A reader that stops reading is dropped once its backlog passes a cap.
import type { Subscription } from 'rxjs';
import type { VideoService } from '../../streams/service.js';
import type { SessionEvent } from '../../streams/events.js';
import type { Ctx } from '../http.js';
import { send, writeHead } from '../http.js';
import type { Router } from '../router.js';
import { notFound, sessionParam } from './v1.js';

export interface SseOptions {
  heartbeatMs?: number;
  /** Bytes a connection may have waiting in our queue before it is dropped. */
  maxBacklogBytes?: number;
}

export function formatSse(ev: SessionEvent): string {
  return `id: ${ev.seq}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev.data)}\n\n`;
}

class SseConnection {
  private backlog: string[] = [];
  private backlogBytes = 0;
  private blocked = false;
  private ending = false;
  closed = false;
  sub: Subscription | null = null;

  constructor(
    private readonly ctx: Ctx,
    private readonly maxBacklogBytes: number,
    private readonly onClose: (c: SseConnection) => void,
  ) {
    ctx.res.onWritable(() => {
      this.blocked = false;
      this.flush();
      return !this.blocked;
    });
  }

  write(chunk: string): void {
    if (this.closed) return;
    if (this.blocked) {
      this.backlog.push(chunk);
      this.backlogBytes += chunk.length;
      if (this.backlogBytes > this.maxBacklogBytes) this.drop();
      return;
    }
    this.ctx.res.cork(() => {
      // write() is false when uWS had to buffer: wait for onWritable before writing more.
      if (!this.ctx.res.write(chunk)) this.blocked = true;
    });
  }

  /** Ends the response once everything queued has been written. */
  end(): void {
    this.ending = true;
    if (!this.blocked) this.finish();
  }

  private flush(): void {
    while (this.backlog.length && !this.blocked && !this.closed) {
      const chunk = this.backlog.shift()!;
      this.backlogBytes -= chunk.length;
      this.ctx.res.cork(() => {
        if (!this.ctx.res.write(chunk)) this.blocked = true;
      });
    }
    if (!this.backlog.length && !this.blocked && this.ending) this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.cleanup();
    this.ctx.done = true;
    this.ctx.res.cork(() => this.ctx.res.end());
  }

  /** Too far behind: close; the client resumes from its Last-Event-ID. */
  private drop(): void {
    if (this.closed) return;
    this.cleanup();
    this.ctx.res.close();
  }

  /** Client went away. */
  aborted(): void {
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = [];
    this.sub?.unsubscribe();
    this.onClose(this);
  }
}

export function registerSse(router: Router, service: VideoService, opts: SseOptions = {}): { close(): void; count(): number } {
  const heartbeatMs = opts.heartbeatMs ?? 4000;
  const maxBacklog = opts.maxBacklogBytes ?? 1 << 20;
  const open = new Set<SseConnection>();
  const heartbeat = setInterval(() => {
    for (const c of open) c.write(': keep-alive\n\n');
  }, heartbeatMs);
  heartbeat.unref();

  router.add(
    'get',
    '/api/v1/video/events/:sessionId',
    'events',
    async (ctx) => {
      const session = await service.get(sessionParam(ctx));
      if (ctx.aborted) return;
      if (!session) throw notFound();
      const rawSince = ctx.headers['last-event-id'] ?? ctx.query.get('lastEventId') ?? '0';
      const since = Math.max(0, Number.parseInt(rawSince, 10) || 0);
      if (session.terminal && since >= session.lastSeq) {
        // Nothing more will ever come: 204 tells EventSource to stop reconnecting.
        send(ctx, 204, '', null);
        return;
      }
      ctx.done = true; // the response is ours to stream from here on
      ctx.status = 200;
      ctx.longLived = true;
      ctx.onSent?.(ctx);
      ctx.res.cork(() => {
        writeHead(ctx, 200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
        ctx.res.write('retry: 1000\n\n');
      });
      const conn = new SseConnection(ctx, maxBacklog, (c) => open.delete(c));
      open.add(conn);
      ctx.onAbort = () => conn.aborted();
      conn.sub = session.eventsSince(since).subscribe({
        next: (ev) => conn.write(formatSse(ev)),
        complete: () => conn.end(),
      });
    },
    { auth: 'query' },
  );

  return {
    close: () => clearInterval(heartbeat),
    count: () => open.size,
  };
}
