// Webhooks: when a session ends, its terminal state is POSTed to the session's webhook URL as
// {sessionId, status, resultsUrl, error}. Each delivery has a stable id (the Webhook-Id header)
// for de-duplication and, with a secret, a signature like Stripe's:
//   Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// A failed attempt (no 2xx answer within the timeout) is retried with exponential backoff
// until the delivery is older than maxAgeMs. Deliveries are stored (WebhookStore) before the
// first attempt and after each one, so a restart (or, with the shared store, another node) picks
// the retries up where they were.
import { createHmac } from 'node:crypto';
import { nanoid } from 'nanoid';
import type { WebhookTarget } from './events.js';
import { InvalidWebhookUrlError } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import type { Session } from './session.js';
import type { WebhookDelivery, WebhookSchedule, WebhookStore } from './stores.js';

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
  /**
   * The session, if it still exists, up to date with its log (a replica must not be behind its
   * terminal event): an ended delivery of a deleted session is deleted too.
   */
  session: (sessionId: string) => Promise<Session | undefined>;
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

/** A delivery of `session`, ended just now, to `target`: due at once. */
function newDelivery(session: Session, target: WebhookTarget): WebhookDelivery {
  return {
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
}

/**
 * Sends the deliveries of a WebhookStore when its schedule says they are due, and records each
 * attempt. With the shared store, any node may send a delivery another node created, and one
 * whose session ended while no node recorded it (its creator died) is created from the session.
 */
export class Webhooks {
  private readonly inFlight = new Map<string, AbortController>();
  private readonly log: Logger;
  private stopped = false;

  constructor(
    private readonly store: WebhookStore,
    private readonly schedule: WebhookSchedule,
    private readonly opts: WebhookOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  /** Starts sending what is due (the stored deliveries still being retried first). */
  start(): void {
    this.schedule.start((sessionId) => this.attempt(sessionId));
  }

  /** Whether a delivery was ever created for the session (recovery creates missing ones). */
  async has(sessionId: string): Promise<boolean> {
    return (await this.store.get(sessionId)) !== null;
  }

  /** Creates and sends the delivery of a session that just ended (once, however often called). */
  async deliver(session: Session, target: WebhookTarget): Promise<void> {
    if (await this.store.create(newDelivery(session, target))) await this.schedule.first(session.id);
  }

  async view(sessionId: string): Promise<WebhookView | null> {
    const d = await this.store.get(sessionId);
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
  async forget(sessionId: string): Promise<void> {
    const d = await this.store.get(sessionId);
    if (d && d.state !== 'pending') await this.store.remove(sessionId);
  }

  /** Stops sending (shutdown); what is stored is sent at the next start (or by another node). */
  stop(): void {
    this.stopped = true;
    this.schedule.stop();
    for (const c of this.inFlight.values()) c.abort();
  }

  /**
   * The delivery of a session whose end no node recorded: made from the session; null when there
   * is none to make (the session is gone, or has no webhook), 'later' when it has not ended yet.
   */
  private async recreate(sessionId: string): Promise<WebhookDelivery | null | 'later'> {
    const session = await this.opts.session(sessionId);
    if (!session?.meta.webhook) return null;
    if (!session.terminal) return 'later';
    await this.store.create(newDelivery(session, session.meta.webhook));
    return this.store.get(sessionId);
  }

  /** One attempt of a due delivery; the next one is scheduled, or the delivery ends. */
  private async attempt(sessionId: string): Promise<void> {
    if (this.stopped || this.inFlight.has(sessionId)) return;
    let d: WebhookDelivery | null | 'later';
    try {
      d = (await this.store.get(sessionId)) ?? (await this.recreate(sessionId));
      // marked due by its end, which this node's copy does not show yet: due again after the claim
      if (d === 'later') return;
      if (d?.state !== 'pending') {
        // an ended delivery outlives its session only until this (forget could not delete it)
        if (d && !(await this.opts.session(sessionId))) await this.store.remove(sessionId);
        return await this.schedule.clear(sessionId);
      }
    } catch (err) {
      // due again once the schedule's lease (shared store) or the next start (journal) comes round
      this.log.warn({ err, sessionId }, 'could not read a webhook delivery');
      return;
    }
    if (this.stopped) return; // stopped while reading: sent by the next start or another node
    const outcome = await this.post(d);
    if (outcome === 'shutdown') return; // sent again at the next start, not counted
    const now = Date.now();
    d.attempts++;
    d.lastAttempt = { at: new Date(now).toISOString(), ...outcome };
    if (!outcome.error) {
      d.state = 'delivered';
      d.nextAttemptAt = null;
      this.log.info({ sessionId, deliveryId: d.id, attempts: d.attempts, statusCode: outcome.statusCode }, 'webhook delivered');
    } else {
      const delay = Math.min(MAX_DELAY_MS, this.opts.retryBaseMs * 2 ** (d.attempts - 1)) * (0.9 + Math.random() * 0.2);
      if (now + delay - d.createdAt > this.opts.maxAgeMs) {
        d.state = 'failed';
        d.nextAttemptAt = null;
        this.log.error({ sessionId, deliveryId: d.id, attempts: d.attempts, error: outcome.error }, 'webhook delivery given up');
      } else {
        d.nextAttemptAt = now + Math.round(delay);
        this.log.warn({ sessionId, deliveryId: d.id, attempts: d.attempts, error: outcome.error, retryInMs: Math.round(delay) }, 'webhook attempt failed');
      }
    }
    try {
      if (d.state === 'pending') {
        await this.store.save(d);
        await this.schedule.at(sessionId, d.nextAttemptAt!);
      } else {
        // saved before the session is looked at: a cleanup that removed the session after this look
        // finds the delivery ended (forget deletes it); one that removed it before is seen here
        await this.store.save(d);
        await this.schedule.clear(sessionId);
        if (!(await this.opts.session(sessionId).catch(() => true))) await this.store.remove(sessionId);
      }
    } catch (err) {
      this.log.error({ err, sessionId }, 'could not record the webhook attempt');
    }
  }

  /** POSTs the delivery: its answer's status code, and what went wrong if it was no 2xx. */
  private async post(d: WebhookDelivery): Promise<{ statusCode: number | null; error: string | null } | 'shutdown'> {
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
    try {
      const res = await fetch(d.url, { method: 'POST', headers, body: d.body, signal: controller.signal, redirect: 'manual' });
      await res.body?.cancel().catch(() => {});
      return { statusCode: res.status, error: res.status < 200 || res.status > 299 ? `HTTP ${res.status}` : null };
    } catch (err) {
      if (controller.signal.aborted && this.stopped) return 'shutdown';
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { statusCode: null, error: controller.signal.aborted ? 'timed out' : (cause ?? 'network error') };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(d.sessionId);
    }
  }
}
