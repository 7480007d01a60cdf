// Server-Sent Events through the browser's EventSource. While EventSource reconnects by itself
// (sending Last-Event-ID) the transport only reports it; once it gives up (an HTTP error, a proxy
// answering something else) the drop goes to follow(), which reconnects with ?lastEventId=.
import type { Transport } from './transport.js';
import { TERMINAL_EVENT_TYPES, type EventType } from './types.js';

const EVENT_TYPES: readonly EventType[] = ['status', 'upload', 'progress', 'segment', ...TERMINAL_EVENT_TYPES];

export function sseTransport(EventSourceImpl: typeof EventSource = globalThis.EventSource): Transport {
  return ({ baseUrl, token, sessionId, since }, sink) => {
    const url = new URL(`/api/v1/video/events/${encodeURIComponent(sessionId)}`, baseUrl);
    if (since > 0) url.searchParams.set('lastEventId', String(since));
    if (token) url.searchParams.set('token', token);
    const es = new EventSourceImpl(url.href);
    es.onopen = () => sink.opened();
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        const m = e as MessageEvent<string>;
        sink.event({ seq: Number(m.lastEventId), type, data: JSON.parse(m.data) as Record<string, unknown> });
      });
    }
    es.onerror = () => {
      const closed = es.readyState === EventSourceImpl.CLOSED;
      sink.dropped(closed ? 'the event stream closed' : 'the event stream broke; reconnecting', !closed);
    };
    return () => es.close();
  };
}
