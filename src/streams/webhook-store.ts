// Webhook deliveries as JSON files under DATA_DIR/webhooks (layout.ts), one per session,
// rewritten atomically after every attempt so that a restart resumes the retries.
import fs from 'node:fs';
import type { DataLayout } from './layout.js';
import { storageError } from './storage.js';
import type { WebhookDelivery, WebhookStore } from './stores.js';

export class FileWebhookStore implements WebhookStore {
  constructor(private readonly layout: DataLayout) {}

  save(delivery: WebhookDelivery): void {
    const file = this.layout.webhookPath(delivery.sessionId);
    try {
      this.layout.ensure(this.layout.webhooksDir);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(delivery));
      fs.renameSync(`${file}.tmp`, file);
    } catch (err) {
      throw storageError(err, 'record the webhook delivery');
    }
  }

  get(sessionId: string): WebhookDelivery | null {
    try {
      return JSON.parse(fs.readFileSync(this.layout.webhookPath(sessionId), 'utf8')) as WebhookDelivery;
    } catch {
      return null;
    }
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
      const d = this.get(name.slice(0, -'.json'.length));
      if (d) out.push(d);
    }
    return out;
  }

  remove(sessionId: string): void {
    try {
      fs.rmSync(this.layout.webhookPath(sessionId), { force: true });
    } catch (err) {
      throw storageError(err, 'delete the webhook delivery');
    }
  }
}
