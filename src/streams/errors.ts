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
