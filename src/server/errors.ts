// Every mapping from a domain error to an HTTP answer, in one table. Anything not in it is a bug:
// it becomes a 500 whose message says nothing of the cause (a cause can carry a server path);
// the cause is logged instead.
import { EngineError } from '../engine/types.js';
import { ParamsError } from '../engine/params.js';
import {
  InvalidWebhookUrlError,
  MediaGoneError,
  MediaNotFoundError,
  MediaNotReadyError,
  QueueFullError,
  RedisUnavailableError,
  ShuttingDownError,
  StorageError,
  UploadLimitError,
} from '../streams/service.js';
import { HttpError } from './http.js';

const retryAfter = (seconds: number) => ({ 'Retry-After': String(Math.max(1, Math.round(seconds))) });

type Mapping<E> = [new (...args: any[]) => E, (err: E) => HttpError];
const row = <E>(type: new (...args: any[]) => E, map: (err: E) => HttpError): Mapping<unknown> => [type, map as (err: unknown) => HttpError];

const TABLE: Mapping<unknown>[] = [
  row(HttpError, (e) => e),
  row(ParamsError, (e) => new HttpError(400, 'bad_request', e.message)),
  row(MediaNotFoundError, (e) => new HttpError(404, 'not_found', e.message)),
  row(MediaNotReadyError, (e) => new HttpError(409, 'not_ready', e.message)),
  row(MediaGoneError, (e) => new HttpError(410, 'gone', e.message)),
  row(QueueFullError, (e) => new HttpError(503, 'busy', e.message, retryAfter(e.retryAfterSeconds))),
  row(UploadLimitError, (e) => new HttpError(503, 'busy', e.message, retryAfter(e.retryAfterSeconds))),
  row(ShuttingDownError, (e) => new HttpError(503, 'unavailable', e.message, retryAfter(e.retryAfterSeconds))),
  row(RedisUnavailableError, (e) => new HttpError(503, 'unavailable', e.message, retryAfter(e.retryAfterSeconds))),
  row(InvalidWebhookUrlError, (e) => new HttpError(400, 'bad_request', e.message)),
  row(EngineError, (e) =>
    e.code === 'unsupported_media' ? new HttpError(415, 'unsupported_media', e.message) : new HttpError(500, e.code, e.message),
  ),
  row(StorageError, (e) =>
    e.kind === 'full'
      ? new HttpError(507, 'insufficient_storage', e.message)
      : e.kind === 'handles'
        ? new HttpError(503, 'unavailable', e.message, retryAfter(5))
        : new HttpError(500, 'storage_error', e.message),
  ),
];

/** The HTTP answer for an error; `internal` (and logged by the caller) when it is not a domain error. */
export function toHttpError(err: unknown): HttpError {
  for (const [type, map] of TABLE) if (err instanceof type) return map(err);
  return new HttpError(500, 'internal', 'Internal error');
}

/** Whether toHttpError knows this error (the others are bugs worth a stack trace in the log). */
export function isDomainError(err: unknown): boolean {
  return TABLE.some(([type]) => err instanceof type);
}
