// Storage failures as domain errors. A filesystem error message carries the path it failed on,
// and paths must never reach a client, so only the errno's meaning is kept.

/** Why a write to DATA_DIR failed, in terms a caller can act on. */
export type StorageErrorKind =
  /** The disk (or a quota, or a file-size limit) is full: free space and retry. */
  | 'full'
  /** The process is out of file handles: a transient overload. */
  | 'handles'
  /** Anything else: read-only disk, permissions, DATA_DIR deleted, I/O error. */
  | 'failed';

export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    /** The errno code (ENOSPC, EROFS…) for logs; never a path. */
    readonly errno: string | null = null,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

const KINDS: Record<string, StorageErrorKind> = { ENOSPC: 'full', EDQUOT: 'full', EFBIG: 'full', EMFILE: 'handles', ENFILE: 'handles' };

const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file size limit was reached',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EROFS: 'the storage is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'the data directory is missing',
  ENOTDIR: 'the data directory is missing',
  EIO: 'an I/O error',
};

/**
 * Wraps a filesystem error as a StorageError saying what could not be done and why, e.g.
 * "Could not store the upload: the disk is full". StorageErrors pass through unchanged.
 */
export function storageError(err: unknown, action: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : null;
  const reason = code ? (REASONS[code] ?? `error ${code}`) : 'an unexpected error';
  return new StorageError((code && KINDS[code]) || 'failed', `Could not ${action}: ${reason}`, code);
}
