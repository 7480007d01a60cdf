// Errors the service raises for callers to map (the server's table in src/server/errors.ts).

/** The analysis queue has no room now. */
export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('The analysis queue is full; try again later.');
  }
}

/** Too many resumable uploads are open (created, not finished). */
export class UploadLimitError extends Error {
  constructor(
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`Too many uploads are in progress (${limit}); try again later.`);
  }
}

/** A session, segment, step or picture that does not exist (or never will). */
export class MediaNotFoundError extends Error {}

/** Media of a segment (or of the result) that is not there yet: the analysis has not reached it. */
export class MediaNotReadyError extends Error {}
