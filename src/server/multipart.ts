// Receives a multipart/form-data upload through busboy, streaming the one file part straight
// to a temporary file under DATA_DIR/incoming. The size limit is enforced while streaming, the
// first bytes are sniffed so non-media fails fast, and a client that goes away leaves nothing.
import busboy from 'busboy';
import fs from 'node:fs';
import { nanoid } from 'nanoid';
import type { Ctx } from './http.js';
import { HttpError, readBody } from './http.js';
import { SNIFF_BYTES, sniffMedia } from './sniff.js';

export interface ReceivedFile {
  path: string;
  /** Client's name, sanitised for display; never used as a path. */
  filename: string | null;
  size: number;
}

export interface MultipartOptions {
  maxFileBytes: number;
  fileFields: string[];
  /** Names of the text fields the endpoint takes; others are a 400. null: keep any. */
  textFields: string[] | null;
  tempPath: (token: string) => string;
}

export interface MultipartResult {
  file: ReceivedFile;
  fields: Record<string, string>;
}

/** Multipart framing overhead allowed on top of the file limit when checking Content-Length. */
const FORM_OVERHEAD = 1024 * 1024;

/**
 * uWebSockets.js (this build) refuses a request whose Content-Length has ten digits or more,
 * before any handler runs, so a multipart body cannot reach 1e9 bytes. Files larger than this
 * go through tus, whose PATCH requests can be any size up to MAX_UPLOAD_BYTES.
 */
export const MULTIPART_MAX_FILE_BYTES = 999_999_999 - FORM_OVERHEAD;

export function sanitizeFilename(name: string | undefined | null): string | null {
  if (!name) return null;
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 200);
  return clean || null;
}

/**
 * Resolves when the whole body has been read and the file is on disk. Rejects with an
 * HttpError; `early` errors (too large, not media) are raised before the body is read in full,
 * and the caller must answer them with `close: true`.
 */
export function receiveMultipart(ctx: Ctx, opts: MultipartOptions): Promise<MultipartResult> {
  return new Promise((resolve, reject) => {
    const ct = ctx.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(ct)) {
      reject(Object.assign(new HttpError(400, 'bad_request', 'Expected a multipart/form-data body with a "file" field'), { early: true }));
      return;
    }
    const declared = Number(ctx.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxFileBytes + FORM_OVERHEAD) {
      reject(tooLarge(opts.maxFileBytes));
      return;
    }

    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { 'content-type': ct },
        limits: { fileSize: opts.maxFileBytes, files: 4, fields: 32, fieldSize: 64 * 1024, parts: 40 },
      });
    } catch (err) {
      reject(Object.assign(new HttpError(400, 'bad_request', `Malformed multipart request: ${(err as Error).message}`), { early: true }));
      return;
    }

    const fields: Record<string, string> = {};
    let file: ReceivedFile | null = null;
    let fileDone: Promise<void> = Promise.resolve();
    let out: fs.WriteStream | null = null;
    let failure: HttpError | null = null;
    let settled = false;

    const cleanup = () => {
      out?.destroy();
      if (file) fs.rm(file.path, { force: true }, () => {});
    };
    const fail = (err: HttpError, early: boolean) => {
      if (settled) return;
      settled = true;
      cleanup();
      ctx.onAbort = null;
      bb.removeAllListeners();
      bb.on('error', () => {});
      reject(Object.assign(err, { early }));
    };
    ctx.onAbort = () => fail(new HttpError(400, 'aborted', 'Client went away'), true);

    bb.on('file', (name, stream, info) => {
      if (!opts.fileFields.includes(name) || file) {
        // Wrong field name, or a second file: read and discard, report at the end.
        if (!file && !failure) failure = new HttpError(400, 'bad_request', `Unexpected file field "${name}"; send the video in the "${opts.fileFields[0]}" field`);
        stream.resume();
        return;
      }
      const path = opts.tempPath(nanoid());
      file = { path, filename: sanitizeFilename(info.filename), size: 0 };
      const f = file;
      const sink = fs.createWriteStream(path);
      out = sink;
      let head: Buffer | null = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        f.size += chunk.length;
        if (head) {
          head = Buffer.concat([head, chunk]);
          if (head.length >= SNIFF_BYTES) {
            if (sniffMedia(head) === 'not-media') fail(notMedia(), true);
            head = null;
          }
        }
      });
      stream.on('limit', () => fail(tooLarge(opts.maxFileBytes), true));
      fileDone = new Promise<void>((res, rej) => {
        sink.on('finish', res);
        sink.on('error', rej);
        stream.on('end', () => {
          if (head && sniffMedia(head) === 'not-media') fail(notMedia(), false);
        });
      });
      stream.pipe(sink);
    });

    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) failure ??= new HttpError(400, 'bad_request', `Field "${name}" is too long`);
      else if (opts.textFields && !opts.textFields.includes(name)) failure ??= new HttpError(400, 'bad_request', `Unknown form field "${name}"`);
      else fields[name] = value;
    });
    bb.on('partsLimit', () => (failure ??= new HttpError(400, 'bad_request', 'Too many form parts')));
    bb.on('fieldsLimit', () => (failure ??= new HttpError(400, 'bad_request', 'Too many form fields')));
    bb.on('error', (err: Error) => fail(new HttpError(400, 'bad_request', `Malformed multipart body: ${err.message}`), false));
    bb.on('close', () => {
      if (settled) return;
      fileDone.then(
        () => {
          if (settled) return;
          if (!failure && !file) failure = new HttpError(400, 'bad_request', `Missing file: send the video in the "${opts.fileFields[0]}" field`);
          if (!failure && file && file.size === 0) failure = new HttpError(400, 'bad_request', 'The uploaded file is empty');
          if (failure) return fail(failure, false);
          settled = true;
          ctx.onAbort = null;
          resolve({ file: file!, fields });
        },
        (err: Error) => fail(new HttpError(500, 'internal', `Could not store the upload: ${err.message}`), false),
      );
    });

    // uWS hands out chunks that are only valid during the callback: copy them. Pause the socket
    // while busboy (and the disk behind it) catches up.
    readBody(ctx, (chunk, isLast) => {
      if (settled) return;
      const ok = bb.write(Buffer.from(chunk.slice(0)));
      if (isLast) bb.end();
      else if (!ok) {
        ctx.res.pause();
        bb.once('drain', () => {
          if (!ctx.aborted && !settled) ctx.res.resume();
        });
      }
    });
  });
}

function tooLarge(max: number) {
  return Object.assign(new HttpError(413, 'too_large', `The file is larger than the ${formatBytes(max)} limit`), { early: true });
}

function notMedia() {
  return new HttpError(415, 'unsupported_media', 'The uploaded file is not a video');
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
