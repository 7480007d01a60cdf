// The locks of a single process: a tus upload's lock (one request writing at a time) and the
// cluster-once lock, which in one process always runs its work.
import type { ClusterLock, UploadLock, UploadLocks } from './stores.js';

/** Upload locks held in memory. A held lock is never stale here: its holder is this process, and a request that ends releases it. */
export class LocalUploadLocks implements UploadLocks {
  private readonly held = new Set<string>();

  async acquire(uploadId: string): Promise<UploadLock | null> {
    if (this.held.has(uploadId)) return null;
    this.held.add(uploadId);
    let released = false;
    return {
      refresh: async () => !released,
      release: async () => {
        if (released) return;
        released = true;
        this.held.delete(uploadId);
      },
    };
  }
}

/** One process is the whole deployment: the work always runs (one run at a time per name). */
export class LocalClusterLock implements ClusterLock {
  private readonly running = new Set<string>();

  async tryRun(name: string, _ttlMs: number, fn: () => Promise<void>): Promise<boolean> {
    if (this.running.has(name)) return false;
    this.running.add(name);
    try {
      await fn();
    } finally {
      this.running.delete(name);
    }
    return true;
  }
}
