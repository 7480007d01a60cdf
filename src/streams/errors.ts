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

/** The process is shutting down (SIGTERM): it takes no new uploads; another instance will. */
export class ShuttingDownError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('The service is shutting down and takes no new uploads; try again shortly.');
  }
}

/** A webhook_url that is not an absolute http(s) URL. */
export class InvalidWebhookUrlError extends Error {
  constructor(raw: string) {
    super(`webhook_url must be an absolute http:// or https:// URL, got ${JSON.stringify(raw.slice(0, 200))}`);
  }
}

/** A session, segment, step or picture that does not exist (or never will). */
export class MediaNotFoundError extends Error {}

/** A clip or reel that can no longer be made: the session's video was deleted before it was asked for. */
export class MediaGoneError extends Error {}

/** Media of a segment (or of the result) that is not there yet: the analysis has not reached it. */
export class MediaNotReadyError extends Error {}

/** The shared store (Redis) cannot be reached now; the request can be sent again shortly. */
export class RedisUnavailableError extends Error {
  constructor(
    readonly retryAfterSeconds = 5,
    message = 'The session store (Redis) cannot be reached; try again shortly.',
  ) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}
