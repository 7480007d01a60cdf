// How a session's events reach the client. A transport delivers events from `since` on and tells
// when the connection opened or dropped; follow() (client.ts) does the rest: resuming after a
// drop from the last seq it passed on, and dropping duplicates, so its caller sees every event
// once and in order.
import type { ClientEvent } from './types.js';

export interface TransportSink {
  event(ev: ClientEvent): void;
  opened(): void;
  /** The connection is gone; `retrying` when the transport reconnects by itself (EventSource). */
  dropped(detail: string, retrying: boolean): void;
  /** Will never work (no such session, bad token): stop. */
  fatal(status: number, code: string, message: string): void;
}

export interface TransportTarget {
  baseUrl: string;
  token: string | null;
  sessionId: string;
  since: number;
}

/** Opens a connection; returns its close function. */
export type Transport = (target: TransportTarget, sink: TransportSink) => () => void;
