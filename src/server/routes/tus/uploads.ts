// What the tus handlers share: the lookup of an upload by the path's id (404 unknown, 410
// expired or terminated), the per-upload lock (one request writing at a time), and the body
// writer that moves an upload's offset.
//
// The upload id is the session id: creation makes an `uploading` session whose video file is
// written in place through the service's upload store. The offset is the length of that file,
// kept in memory while the process runs and re-read from disk for uploads restored after a
// restart; between requests an upload holds no open file. A request that breaks off, or that
// hits a disk error, keeps what reached the disk, so the client resumes at the offset HEAD
// reports — except with Upload-Checksum, where a body that cannot be verified is discarded.
import { createHash, type Hash } from 'node:crypto';
import { QueueFullError, type UploadLock, type VideoService } from '../../../streams/service.js';
import type { Session } from '../../../streams/session.js';
import { isSessionId } from '../../../streams/store.js';
import type { Ctx } from '../../http.js';
import { HttpError, pipeBody } from '../../http.js';
import { hasBody, type Checksum } from './protocol.js';

/** What is kept about an unfinished upload while the process runs. */
export interface UploadState {
  session: Session;
  /** Bytes durably in the file (the tus offset). */
  offset: number;
  length: number;
  /** The lock: the request now writing, if any. */
  active: { cancel(): void } | null;
  lastEventAt: number;
}

/** How often a request writing to an upload tells its lock it is alive. */
const LOCK_REFRESH_MS = 1000;

export type Lookup = { kind: 'open'; up: UploadState } | { kind: 'complete'; session: Session };

export interface TusUploadsOptions {
  /** How long an unfinished upload lives after its last activity. */
  expiryMs: number;
  /** Minimum interval between `upload` events during a PATCH (the last one is always sent). */
  progressIntervalMs: number;
}

export class TusUploads {
  private readonly open = new Map<string, UploadState>();
  /** Ids of uploads that expired or were terminated here: 410 rather than 404 (bounded). */
  private readonly gone = new Set<string>();

  constructor(
    private readonly service: VideoService,
    private readonly opts: TusUploadsOptions,
  ) {}

  /** The upload of the path's id: 404 unknown or not a tus session, 410 expired, terminated or abandoned. */
  async lookup(ctx: Ctx): Promise<Lookup> {
    const session = await this.session(ctx.params[0]);
    if (session.state.status === 'uploading') {
      const up = this.stateOf(session);
      // With several nodes on one DATA_DIR another node may have moved the offset since.
      if (this.service.shared && !up.active) up.offset = this.service.uploadOffset(session);
      if (!up.active && Date.now() > this.expiresAt(session)) {
        this.forget(session.id, true);
        await this.service.cleanup(session.id);
        throw new HttpError(410, 'gone', 'The upload expired');
      }
      return { kind: 'open', up };
    }
    if (uploadComplete(session)) return { kind: 'complete', session };
    throw new HttpError(410, 'gone', `The upload was ${session.state.status === 'cancelled' ? 'cancelled' : 'abandoned'}`);
  }

  /** Terminates an upload: stops a request writing to it (answered 410) and deletes the session. */
  async terminate(ctx: Ctx): Promise<void> {
    const session = await this.session(ctx.params[0]);
    this.open.get(session.id)?.active?.cancel();
    this.forget(session.id, true);
    await this.service.cleanup(session.id); // a request writing on another node stops on the cancelled event
  }

  /** The upload's lock for one request (423 while another request holds it). */
  async lock(up: UploadState): Promise<UploadLock> {
    const lock = up.active ? null : await this.service.uploadLocks.acquire(up.session.id);
    if (!lock) throw new HttpError(423, 'locked', 'Another request is writing to this upload; retry after a HEAD');
    if (up.active) {
      await lock.release(); // another request of this node took it meanwhile
      throw new HttpError(423, 'locked', 'Another request is writing to this upload; retry after a HEAD');
    }
    if (this.service.shared) up.offset = this.service.uploadOffset(up.session); // where the last holder left it
    return lock;
  }

  /**
   * State of a new or restored unfinished upload. It lives while the session is `uploading`:
   * once it is not (finished, cancelled, cleaned up, expired, from whatever route), the state is
   * dropped and a request writing to it is stopped (answered 410).
   */
  stateOf(session: Session): UploadState {
    let up = this.open.get(session.id);
    if (!up) {
      const state: UploadState = { session, offset: this.service.uploadOffset(session), length: session.meta.uploadLength ?? 0, active: null, lastEventAt: 0 };
      up = state;
      this.open.set(session.id, state);
      const sub = session.states.subscribe((st) => {
        if (st.status === 'uploading') return;
        if (this.open.get(session.id) === state) this.open.delete(session.id);
        state.active?.cancel();
        queueMicrotask(() => sub.unsubscribe());
      });
    }
    return up;
  }

  /** Drops the in-memory state (re-read from disk on the next request); `gone`: later requests get 410. */
  forget(id: string, gone = false): void {
    this.open.delete(id);
    if (!gone) return;
    this.gone.add(id);
    if (this.gone.size > 10_000) this.gone.delete(this.gone.values().next().value!);
  }

  expiresHeader(session: Session): Record<string, string> {
    return { 'Upload-Expires': new Date(this.expiresAt(session)).toUTCString() };
  }

  /** The queue must have room before the body that would complete an upload is read. */
  async assertRoomToFinish(up: UploadState, declared: number | null): Promise<void> {
    if (declared !== null && up.offset + declared === up.length) await this.service.assertRoom();
  }

  /**
   * Streams the request body to the upload's file at its offset, holding the upload's lock.
   * Resolves once the body is on disk (checksum verified) and the offset moved; rejects with the
   * error to answer. If the client goes away, the bytes written so far count (unless a checksum
   * was asked for) and the promise resolves with `aborted`.
   */
  receive(ctx: Ctx, up: UploadState, checksum: Checksum | null, lock: UploadLock | null = null): Promise<{ aborted: boolean }> {
    const { service } = this;
    return new Promise((resolve, reject) => {
      const start = up.offset;
      const writer = service.appendUpload(up.session, start);
      const hash: Hash | null = checksum ? createHash(checksum.algorithm) : null;
      let received = 0;
      let settled = false;
      let failure: unknown = null;
      let aborted = false;

      /** Closes the file, then keeps or discards this request's bytes and releases the lock. */
      const settle = (keep: boolean) => {
        if (settled) return;
        settled = true;
        ctx.onAbort = null;
        (keep ? writer.finish() : writer.abort()).then(
          () => done(keep),
          (err) => {
            failure ??= err; // a disk error: what reached the disk still counts, unless it must be verified
            done(!checksum);
          },
        );
      };
      const done = async (keep: boolean) => {
        clearInterval(refresher);
        up.active = null;
        if (keep) up.offset = start + writer.written;
        else {
          try {
            service.truncateUpload(up.session, start);
          } catch (err) {
            failure ??= err;
            this.forget(up.session.id); // the offset is read from the disk again next time
          }
        }
        await lock?.release().catch(() => {}); // a lock left behind goes stale and is taken over
        if ((await service.get(up.session.id).catch(() => undefined)) === up.session) this.emitProgress(up, up.offset, true);
        if (failure) reject(failure);
        else resolve({ aborted });
      };

      up.active = {
        // Terminated meanwhile: this request is answered 410 (the rest of its body is not stored).
        cancel: () => {
          failure = new HttpError(410, 'gone', 'The upload was terminated, cancelled or deleted');
          settle(false);
        },
      };
      ctx.onAbort = () => {
        aborted = true;
        settle(!checksum);
      };
      // A shared lock goes stale unless its holder says it is alive; one taken over stops this request.
      const refresher = setInterval(() => {
        void lock?.refresh().then(
          (held) => {
            if (held || settled) return;
            failure = new HttpError(423, 'locked', 'Another request took over this upload; retry after a HEAD');
            settle(!checksum);
          },
          () => {}, // the store is away: the lock is refreshed again at the next tick
        );
      }, LOCK_REFRESH_MS);
      refresher.unref();
      writer.onError(() => settle(true));
      if (ctx.aborted) {
        // gone while the handler waited for the store or the lock
        aborted = true;
        settle(!checksum);
        return;
      }

      if (!hasBody(ctx)) {
        settle(true);
        return;
      }
      pipeBody(ctx, {
        write: (buf) => {
          if (settled) return true;
          if (start + received + buf.length > up.length) {
            failure = new HttpError(413, 'too_large', `The body goes past the declared Upload-Length of ${up.length} bytes`);
            settle(false);
            return true;
          }
          received += buf.length;
          hash?.update(buf);
          this.emitProgress(up, start + received, false);
          return writer.write(buf);
        },
        onDrain: (resume) => writer.onceDrain(resume),
        end: () => {
          if (settled) return;
          if (hash && !hash.digest().equals(checksum!.digest)) {
            failure = new HttpError(460, 'checksum_mismatch', `The ${checksum!.algorithm} checksum of the body does not match Upload-Checksum`);
            settle(false);
          } else settle(true);
        },
      });
    });
  }

  /**
   * After a body: queue the session when the last byte is in. If the queue is full, the bytes of
   * this request are dropped again and QueueFullError (503) goes to the client, which retries.
   */
  async afterWrite(up: UploadState, requestStart: number): Promise<void> {
    if (up.offset < up.length || (await this.service.get(up.session.id)) !== up.session) return;
    this.open.delete(up.session.id);
    try {
      await this.service.finishUpload(up.session);
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      this.service.truncateUpload(up.session, requestStart);
      up.offset = requestStart;
      this.open.set(up.session.id, up);
      this.emitProgress(up, up.offset, true);
      throw err;
    }
  }

  /** The session of a tus upload id; 404 when unknown or not created by tus, 410 when it is gone. */
  private async session(id: string): Promise<Session> {
    const session = isSessionId(id) ? await this.service.get(id) : undefined;
    if (!session) {
      if (this.gone.has(id)) throw new HttpError(410, 'gone', 'The upload expired or was terminated');
      throw new HttpError(404, 'not_found', 'No such upload');
    }
    if (session.meta.uploadLength == null) throw new HttpError(404, 'not_found', 'This session was not created by a resumable upload');
    return session;
  }

  private expiresAt(session: Session): number {
    return Date.parse(session.state.updatedAt) + this.opts.expiryMs;
  }

  private emitProgress(up: UploadState, received: number, force: boolean): void {
    const now = performance.now();
    if (!force && now - up.lastEventAt < this.opts.progressIntervalMs) return;
    up.lastEventAt = now;
    this.service.uploadProgress(up.session, received, up.length);
  }
}

/** Whether the session went past its upload (queued, analysed, or failed at the final probe). */
function uploadComplete(session: Session): boolean {
  return (
    session.history().some((e) => e.type === 'status' && e.data.status === 'pending') ||
    (session.state.status === 'failed' && session.state.error?.code === 'unsupported_media' && session.meta.uploadLength != null)
  );
}
