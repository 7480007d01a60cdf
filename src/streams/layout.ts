// Where everything lives under DATA_DIR. Only the stores (journal, uploads, lock) use these paths:
//   sessions/<id>/      one folder per session (journal files, result, video)
//   sessions/<id>/media/  thumbnails, storyboard sprites, clips and reel (media.ts names the files)
//   incoming/<token>.part  multipart uploads still being received (incoming/<node>/ for each
//                      node when several share DATA_DIR: each clears only its own leftovers)
//   webhooks/<id>.json one webhook delivery per session (webhook-store.ts)
//   .lock              held by the process that owns DATA_DIR
import fs from 'node:fs';
import path from 'node:path';

export class DataLayout {
  readonly sessionsDir: string;
  readonly incomingDir: string;
  readonly lockFile: string;
  readonly webhooksDir: string;

  constructor(
    readonly root: string,
    /** The node's id when several nodes share DATA_DIR. */
    node: string | null = null,
  ) {
    this.sessionsDir = path.join(root, 'sessions');
    this.incomingDir = node ? path.join(root, 'incoming', node) : path.join(root, 'incoming');
    this.lockFile = path.join(root, '.lock');
    this.webhooksDir = path.join(root, 'webhooks');
  }

  /**
   * Creates sessions/ or incoming/ if it is missing (say DATA_DIR was emptied while running),
   * but never DATA_DIR itself: a missing DATA_DIR may be an unmounted volume, and writing in its
   * place would put the data on the wrong disk. Throws the filesystem error.
   */
  ensure(dir: string): void {
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  /** Creates incoming/ (and the node's folder in it), as ensure() does. */
  ensureIncoming(): void {
    const parent = path.dirname(this.incomingDir);
    if (parent !== this.root) this.ensure(parent);
    this.ensure(this.incomingDir);
  }

  /**
   * Creates DATA_DIR and its parents at start. (Not fs.mkdirSync's recursive mode: on Node 20 it
   * loops forever where mkdir fails with ENOENT under an existing parent, as in /proc.)
   */
  createRoot(dir = this.root, depth = 0): void {
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      const parent = path.dirname(dir);
      if (code !== 'ENOENT' || parent === dir || depth > 64) throw err;
      this.createRoot(parent, depth + 1);
      fs.mkdirSync(dir);
    }
  }

  sessionDir(id: string): string {
    return path.join(this.sessionsDir, id);
  }

  videoPath(id: string): string {
    return path.join(this.sessionDir(id), 'video');
  }

  webhookPath(sessionId: string): string {
    return path.join(this.webhooksDir, `${sessionId}.json`);
  }

  mediaDir(id: string): string {
    return path.join(this.sessionDir(id), 'media');
  }

  incomingPath(token: string): string {
    return path.join(this.incomingDir, `${token}.part`);
  }
}
