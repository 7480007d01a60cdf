// Every media file of a session, under sessions/<id>/media/ (layout.ts): the pictures the engine
// writes during the analysis (thumb-<n>.jpg, sprite-<n>.jpg, storyboard.json) and the MP4s cut
// on first request (clip-<n>.mp4, step-<n>.mp4, reel.mp4). A cut runs on a native thread; two
// requests for the same file share one cut, and a few cuts run at once at most.
import fs from 'node:fs';
import path from 'node:path';
import { cutSpans } from '../engine/index.js';
import type { MediaOutput, StoryboardIndex } from '../engine/types.js';
import type { DataLayout } from './layout.js';
import { storageError } from './storage.js';

/** Cuts running at once; the rest wait (each uses two encoder threads). */
const MAX_CUTS = 2;

export type CutName = `clip-${number}` | `step-${number}` | 'reel';

export class MediaStore {
  private readonly inflight = new Map<string, { promise: Promise<string>; abort: AbortController }>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly layout: DataLayout) {}

  /** Creates the session's media folder and says where the engine writes its pictures. Throws a StorageError. */
  prepare(id: string): MediaOutput {
    const dir = this.layout.mediaDir(id);
    try {
      this.layout.ensure(dir);
    } catch (err) {
      throw storageError(err, 'create the media folder');
    }
    return {
      thumbnailFile: path.join(dir, 'thumb-{n}.jpg'),
      spriteFile: path.join(dir, 'sprite-{n}.jpg'),
      storyboardFile: path.join(dir, 'storyboard.json'),
    };
  }

  /** A segment's thumbnail, or null when none was made. */
  thumbnail(id: string, index: number): string | null {
    return existing(path.join(this.layout.mediaDir(id), `thumb-${index}.jpg`));
  }

  sprite(id: string, n: number): string | null {
    return existing(path.join(this.layout.mediaDir(id), `sprite-${n}.jpg`));
  }

  storyboard(id: string): StoryboardIndex | null {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.layout.mediaDir(id), 'storyboard.json'), 'utf8')) as StoryboardIndex;
    } catch {
      return null;
    }
  }

  /**
   * The MP4 `name` of a session: the spans of `video` joined, cut on the first call and kept.
   * Rejects with an EngineError (the cut failed) or a StorageError.
   */
  cut(id: string, name: CutName, video: string, spans: Array<[number, number]>): Promise<string> {
    const file = path.join(this.layout.mediaDir(id), `${name}.mp4`);
    if (existing(file)) return Promise.resolve(file);
    const key = `${id}/${name}`;
    const pending = this.inflight.get(key);
    if (pending) return pending.promise;
    const abort = new AbortController();
    const promise = this.runCut(file, video, spans, abort.signal).finally(() => this.inflight.delete(key));
    this.inflight.set(key, { promise, abort });
    return promise;
  }

  /** Stops the session's cuts (before its folder is removed). */
  forget(id: string): void {
    for (const [key, cut] of this.inflight) if (key.startsWith(`${id}/`)) cut.abort.abort();
  }

  private async runCut(file: string, video: string, spans: Array<[number, number]>, signal: AbortSignal): Promise<string> {
    await this.slot();
    const part = `${file}.part`;
    try {
      this.layout.ensure(path.dirname(file));
      await cutSpans(video, part, spans, { signal });
      fs.renameSync(part, file);
      return file;
    } catch (err) {
      fs.rmSync(part, { force: true });
      if ((err as NodeJS.ErrnoException).code && typeof (err as NodeJS.ErrnoException).errno === 'number') throw storageError(err, 'store the clip');
      throw err;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private slot(): Promise<void> {
    if (this.running < MAX_CUTS) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.running++;
        resolve();
      }),
    );
  }
}

function existing(file: string): string | null {
  return fs.existsSync(file) ? file : null;
}
