// The journal's webhook deliveries: JSON files under DATA_DIR/webhooks (layout.ts), one per
// session, rewritten atomically after every attempt, and timers of this process for when they are
// due, so that a restart resumes the retries.
import fs from 'node:fs';
import type { DataLayout } from './layout.js';
import { storageError } from './storage.js';
import type { WebhookDelivery, WebhookSchedule, WebhookStore } from './stores.js';

export class FileWebhookStore implements WebhookStore {
  constructor(private readonly layout: DataLayout) {}

  async create(delivery: WebhookDelivery): Promise<boolean> {
    if (this.read(delivery.sessionId)) return false;
    this.write(delivery);
    return true;
  }

  async save(delivery: WebhookDelivery): Promise<void> {
    this.write(delivery);
  }

  async get(sessionId: string): Promise<WebhookDelivery | null> {
    return this.read(sessionId);
  }

  /** Every stored delivery; unreadable files (a torn write) are skipped. */
  all(): WebhookDelivery[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.layout.webhooksDir);
    } catch {
      return [];
    }
    const out: WebhookDelivery[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const d = this.read(name.slice(0, -'.json'.length));
      if (d) out.push(d);
    }
    return out;
  }

  async remove(sessionId: string): Promise<void> {
    try {
      fs.rmSync(this.layout.webhookPath(sessionId), { force: true });
    } catch (err) {
      throw storageError(err, 'delete the webhook delivery');
    }
  }

  private read(sessionId: string): WebhookDelivery | null {
    try {
      return JSON.parse(fs.readFileSync(this.layout.webhookPath(sessionId), 'utf8')) as WebhookDelivery;
    } catch {
      return null;
    }
  }

  private write(delivery: WebhookDelivery): void {
    const file = this.layout.webhookPath(delivery.sessionId);
    try {
      this.layout.ensure(this.layout.webhooksDir);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(delivery));
      fs.renameSync(`${file}.tmp`, file);
    } catch (err) {
      throw storageError(err, 'record the webhook delivery');
    }
  }
}

/** One timer per due delivery, in this process; at start, every stored delivery is looked at. */
export class TimerWebhookSchedule implements WebhookSchedule {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private attempt: ((sessionId: string) => Promise<void>) | null = null;

  constructor(private readonly store: FileWebhookStore) {}

  start(attempt: (sessionId: string) => Promise<void>): void {
    this.attempt = attempt;
    // ended ones too: the attempt deletes those whose session is gone
    for (const d of this.store.all()) this.set(d.sessionId, d.state === 'pending' ? (d.nextAttemptAt ?? 0) : 0);
  }

  async first(sessionId: string): Promise<void> {
    this.set(sessionId, Date.now());
  }

  async at(sessionId: string, at: number): Promise<void> {
    this.set(sessionId, at);
  }

  async clear(sessionId: string): Promise<void> {
    clearTimeout(this.timers.get(sessionId));
    this.timers.delete(sessionId);
  }

  stop(): void {
    this.attempt = null;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private set(sessionId: string, at: number): void {
    const attempt = this.attempt;
    if (!attempt) return;
    clearTimeout(this.timers.get(sessionId));
    const t = setTimeout(() => {
      this.timers.delete(sessionId);
      void attempt(sessionId);
    }, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
    t.unref();
    this.timers.set(sessionId, t);
  }
}
