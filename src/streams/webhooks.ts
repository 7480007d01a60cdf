// Webhooks: when a session ends, its terminal state is POSTed to the session's webhook URL as
// {sessionId, status, resultsUrl, error}. Each delivery has a stable id (the Webhook-Id header)
// for de-duplication and, with a secret, a signature like Stripe's:
//   Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// A failed attempt (no 2xx answer within the timeout) is retried with exponential backoff
// until the delivery is older than maxAgeMs. Deliveries are stored (WebhookStore) before the
// first attempt and after each one, so a restart picks the retries up where they were.
import { createHmac } from 'node:crypto';
import { nanoid } from 'nanoid';
import type { WebhookTarget } from './events.js';
import { InvalidWebhookUrlError } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import type { Session } from './session.js';
import type { WebhookDelivery, WebhookStore } from './stores.js';

export interface WebhookOptions {
  /** Signs deliveries when set. */
  secret: string | null;
  /** Delay before the first retry; doubles with every attempt (capped at an hour). */
  retryBaseMs: number;
  /** Retries stop once a delivery is this old. */
  maxAgeMs: number;
  /** How long one attempt may take. */
  timeoutMs?: number;
  log?: Logger;
  /** Whether the session still exists: an ended delivery of a deleted session is deleted too. */
  sessionExists: (sessionId: string) => Promise<boolean>;
}

/** What the status object shows of a session's webhook. */
export interface WebhookView {
  deliveryId: string;
  url: string;
  state: WebhookDelivery['state'];
  attempts: number;
  lastAttempt: WebhookDelivery['lastAttempt'];
  nextAttemptAt: string | null;
}

const MAX_DELAY_MS = 3_600_000;

/** An absolute http(s) URL, normalised; null for anything else. */
export function parseHttpUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname || url.username || url.password) return null;
  return url.href;
}

/** A client's webhook_url, or InvalidWebhookUrlError. */
export function parseWebhookUrl(raw: string): string {
  const url = raw.length <= 2048 ? parseHttpUrl(raw) : null;
  if (!url) throw new InvalidWebhookUrlError(raw);
  return url;
}

/** The signature header value for a body sent at `t` (unix seconds). */
export function signWebhook(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export function webhookBody(session: Session, target: WebhookTarget): string {
  const st = session.state;
  return JSON.stringify({
    sessionId: session.id,
    status: st.status,
    resultsUrl: st.status === 'completed' ? `${target.base.replace(/\/$/, '')}/api/v1/video/results/${session.id}` : null,
    error: st.error,
  });
}

export class Webhooks {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Map<string, AbortController>();
  private readonly log: Logger;
  private stopped = false;

  constructor(
    private readonly store: WebhookStore,
    private readonly opts: WebhookOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  /** Resumes the stored deliveries that were still being retried; drops ended ones of deleted sessions. */
  resume(): void {
    for (const d of this.store.all()) {
      if (d.state === 'pending') this.schedule(d, Math.max(0, (d.nextAttemptAt ?? 0) - Date.now()));
      else void this.dropIfOrphan(d);
    }
  }

  /** Deletes an ended delivery whose session is gone. */
  private async dropIfOrphan(d: WebhookDelivery): Promise<void> {
    try {
      if (!(await this.opts.sessionExists(d.sessionId))) this.store.remove(d.sessionId);
    } catch (err) {
      this.log.warn({ err, sessionId: d.sessionId }, 'could not check the session of an ended webhook delivery');
    }
  }

  /** Whether a delivery was ever created for the session (recovery creates missing ones). */
  has(sessionId: string): boolean {
    return this.store.get(sessionId) !== null;
  }

  /** Creates and sends the delivery of a session that just ended. Throws a StorageError. */
  deliver(session: Session, target: WebhookTarget): void {
    if (this.store.get(session.id)) return;
    const d: WebhookDelivery = {
      id: `whd_${nanoid()}`,
      sessionId: session.id,
      url: target.url,
      body: webhookBody(session, target),
      createdAt: Date.now(),
      attempts: 0,
      state: 'pending',
      nextAttemptAt: Date.now(),
      lastAttempt: null,
    };
    this.store.save(d);
    this.schedule(d, 0);
  }

  view(sessionId: string): WebhookView | null {
    const d = this.store.get(sessionId);
    if (!d) return null;
    return {
      deliveryId: d.id,
      url: d.url,
      state: d.state,
      attempts: d.attempts,
      lastAttempt: d.lastAttempt,
      nextAttemptAt: d.state === 'pending' && d.nextAttemptAt !== null ? new Date(d.nextAttemptAt).toISOString() : null,
    };
  }

  /** The session is gone: a delivery that ended is deleted, one still retrying goes on. */
  forget(sessionId: string): void {
    const d = this.store.get(sessionId);
    if (d && d.state !== 'pending') this.store.remove(sessionId);
  }

  /** Stops retrying (shutdown); what is stored is resumed at the next start. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inFlight.values()) c.abort();
  }

  private schedule(d: WebhookDelivery, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(d.sessionId));
    const t = setTimeout(() => {
      this.timers.delete(d.sessionId);
      void this.attempt(d);
    }, Math.min(delayMs, 2 ** 31 - 1));
    t.unref();
    this.timers.set(d.sessionId, t);
  }

  private async attempt(d: WebhookDelivery): Promise<void> {
    const t = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'video-analysis-service-webhooks',
      'Webhook-Id': d.id,
      'Webhook-Timestamp': String(t),
    };
    if (this.opts.secret) headers['Webhook-Signature'] = signWebhook(this.opts.secret, t, d.body);
    const controller = new AbortController();
    this.inFlight.set(d.sessionId, controller);
    const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs ?? 10_000);
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(d.url, { method: 'POST', headers, body: d.body, signal: controller.signal, redirect: 'manual' });
      statusCode = res.status;
      await res.body?.cancel().catch(() => {});
      if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      error = controller.signal.aborted ? (this.stopped ? 'shutdown' : 'timed out') : (cause ?? 'network error');
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(d.sessionId);
    }
    if (this.stopped && error === 'shutdown') return; // resumed at the next start, not counted
    const now = Date.now();
    d.attempts++;
    d.lastAttempt = { at: new Date(now).toISOString(), statusCode, error };
    if (!error) {
      d.state = 'delivered';
      d.nextAttemptAt = null;
      this.log.info({ sessionId: d.sessionId, deliveryId: d.id, attempts: d.attempts, statusCode }, 'webhook delivered');
    } else {
      const delay = Math.min(MAX_DELAY_MS, this.opts.retryBaseMs * 2 ** (d.attempts - 1)) * (0.9 + Math.random() * 0.2);
      if (now + delay - d.createdAt > this.opts.maxAgeMs) {
        d.state = 'failed';
        d.nextAttemptAt = null;
        this.log.error({ sessionId: d.sessionId, deliveryId: d.id, attempts: d.attempts, error }, 'webhook delivery given up');
      } else {
        d.nextAttemptAt = now + Math.round(delay);
        this.log.warn({ sessionId: d.sessionId, deliveryId: d.id, attempts: d.attempts, error, retryInMs: Math.round(delay) }, 'webhook attempt failed');
      }
    }
    try {
      if (d.state !== 'pending' && !(await this.opts.sessionExists(d.sessionId).catch(() => true))) this.store.remove(d.sessionId);
      else this.store.save(d);
    } catch (err) {
      this.log.error({ err, sessionId: d.sessionId }, 'could not record the webhook delivery');
    }
    if (d.state === 'pending') this.schedule(d, d.nextAttemptAt! - now);
  }
}
