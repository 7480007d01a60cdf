// WebSocket transport: one socket per followed session, subscribed with `since`. Works with the
// WHATWG WebSocket (browsers, Node 22+) and with the `ws` package (node.ts passes it in).
import type { Transport } from './transport.js';
import type { ClientEvent } from './types.js';

/** The part of the WebSocket interface used here (both the DOM's and `ws`'s have it). */
export interface WebSocketLike {
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(): void;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export function wsTransport(create: WebSocketFactory = (url) => new WebSocket(url)): Transport {
  return ({ baseUrl, token, sessionId, since }, sink) => {
    const url = new URL('/api/v1/video/ws', baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('token', token);
    const ws = create(url.href);
    let closed = false;
    ws.onopen = () => {
      ws.send(JSON.stringify({ op: 'subscribe', sessionId, since }));
      sink.opened();
    };
    ws.onmessage = ({ data }: { data: unknown }) => {
      const frame = JSON.parse(String(data)) as ClientEvent & { sessionId?: string; error?: { code: string; message: string } };
      if ((frame.type as string) === 'error') {
        const err = frame.error ?? { code: 'error', message: 'WebSocket error' };
        if (err.code === 'not_found') sink.fatal(404, err.code, err.message);
        else sink.dropped(err.message, false);
        return;
      }
      if (frame.sessionId === sessionId) sink.event({ seq: frame.seq, type: frame.type, data: frame.data });
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (!closed) sink.dropped('the WebSocket closed', false);
    };
    return () => {
      closed = true;
      ws.close();
    };
  };
}
