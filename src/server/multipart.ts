// Receives a multipart/form-data upload through busboy, streaming the one file part straight
// to a file of the upload store. The size limit is enforced while streaming, the first bytes
// are sniffed so non-media fails fast, and a malformed body, a disk error or a client that goes
// away leaves nothing behind.
import busboy from 'busboy';
import type { IncomingUpload } from '../streams/service.js';
import type { Ctx } from './http.js';
import { HttpError, discardBody, pipeBody } from './http.js';
import { SNIFF_BYTES, sniffMedia } from './sniff.js';

export interface ReceivedFile {
  /** The received bytes, to adopt into a session or discard. */
  upload: IncomingUpload;
  /** Client's name, sanitised for display; never used as a path. */
  filename: string | null;
  size: number;
}

export interface MultipartOptions {
  maxFileBytes: number;
  fileFields: string[];
  /** Names of the text fields the endpoint takes; others are a 400. null: keep any. */
  textFields: string[] | null;
  /** Where the file part is written. */
  receive: () => IncomingUpload;
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
  // 200 characters, counted in code points so a name is never cut inside one.
  const clean = Array.from(base.replace(/[\u0000-\u001f\u007f]/g, '').trim()).slice(0, 200).join('');
  return clean || null;
}

/**
 * Resolves when the whole body has been read and the file is on disk. Rejects with an
 * HttpError or a StorageError, after deleting whatever was written; the router answers once the
 * rest of the body is in (or closes the connection for a large one).
 */
export function receiveMultipart(ctx: Ctx, opts: MultipartOptions): Promise<MultipartResult> {
  return new Promise((resolve, reject) => {
    const ct = ctx.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(ct)) {
      reject(new HttpError(400, 'bad_request', 'Expected a multipart/form-data body with a "file" field'));
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
        defParamCharset: 'utf8', // file names as browsers send them (UTF-8), not Latin-1
        limits: { fileSize: opts.maxFileBytes, files: 4, fields: 32, fieldSize: 64 * 1024, parts: 40 },
      });
    } catch (err) {
      reject(new HttpError(400, 'bad_request', `Malformed multipart request: ${(err as Error).message}`));
      return;
    }

    const fields: Record<string, string> = {};
    let file: ReceivedFile | null = null;
    /** A problem reported once the whole body is in (the client is still sending). */
    let deferred: HttpError | null = null;
    let settled = false;
    const fileField = opts.fileFields[0];

    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      ctx.onAbort = null;
      discardBody(ctx);
      bb.removeAllListeners();
      bb.on('error', () => {});
      // Not now: fail() can run inside one of busboy's own callbacks ('limit'), and busboy goes on
      // using its state after the callback returns.
      setImmediate(() => bb.destroy());
      (file ? file.upload.discard() : Promise.resolve()).then(() => reject(err));
    };
    ctx.onAbort = () => fail(new HttpError(400, 'aborted', 'Client went away'));
    // gone while the handler waited before reading (a shared store's check)
    if (ctx.aborted) return fail(new HttpError(400, 'aborted', 'Client went away'));

    bb.on('file', (name, stream, info) => {
      // busboy destroys the part's stream with its error (e.g. "Unexpected end of form").
      stream.on('error', (err: Error) => fail(malformed(err)));
      if (!opts.fileFields.includes(name) || file) {
        deferred ??= file
          ? new HttpError(400, 'bad_request', `Send one video per upload: the form has a second file part ("${name}")`)
          : new HttpError(400, 'bad_request', `${name ? `Unexpected file field "${name}"` : 'A file part has no field name'}; send the video in the "${fileField}" field`);
        stream.resume();
        return;
      }
      const upload = opts.receive();
      const f: ReceivedFile = { upload, filename: sanitizeFilename(info.filename), size: 0 };
      file = f;
      upload.writer.onError(fail);
      let head: Buffer | null = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        f.size += chunk.length;
        if (head) {
          head = Buffer.concat([head, chunk]);
          if (head.length >= SNIFF_BYTES) {
            if (sniffMedia(head) === 'not-media') return fail(notMedia());
            head = null;
          }
        }
        if (!upload.writer.write(chunk)) {
          stream.pause();
          upload.writer.onceDrain(() => stream.resume());
        }
      });
      stream.on('limit', () => fail(tooLarge(opts.maxFileBytes)));
      stream.on('end', () => {
        if (head && sniffMedia(head) === 'not-media') deferred ??= notMedia();
      });
    });

    bb.on('field', (name, value, info) => {
      if (opts.fileFields.includes(name)) {
        // busboy hands a part with an empty filename (filename="") over as a text field.
        deferred ??= new HttpError(400, 'bad_request', `The "${name}" part must be a file: give it a filename (Content-Disposition: form-data; name="${name}"; filename="video.mp4")`);
      } else if (info.valueTruncated) deferred ??= new HttpError(400, 'bad_request', `Field "${name}" is too long`);
      else if (opts.textFields && !opts.textFields.includes(name)) deferred ??= new HttpError(400, 'bad_request', `Unknown form field "${name}"`);
      else fields[name] = value;
    });
    bb.on('partsLimit', () => (deferred ??= new HttpError(400, 'bad_request', 'Too many form parts')));
    bb.on('filesLimit', () => (deferred ??= new HttpError(400, 'bad_request', `Send one video per upload, in the "${fileField}" field`)));
    bb.on('fieldsLimit', () => (deferred ??= new HttpError(400, 'bad_request', 'Too many form fields')));
    bb.on('error', (err: Error) => fail(malformed(err)));
    bb.on('close', () => {
      if (settled) return;
      if (!deferred && !file) deferred = new HttpError(400, 'bad_request', `Missing file: send the video in the "${fileField}" field`);
      if (!deferred && file && file.size === 0) deferred = new HttpError(400, 'bad_request', 'The uploaded file is empty');
      if (deferred) return fail(deferred);
      const f = file!;
      f.upload.writer.finish().then(
        () => {
          if (settled) return;
          settled = true;
          ctx.onAbort = null;
          resolve({ file: f, fields });
        },
        fail,
      );
    });

    pipeBody(ctx, {
      write: (chunk) => bb.write(chunk),
      onDrain: (resume) => bb.once('drain', resume),
      end: () => bb.end(),
    });
  });
}

function malformed(err: Error) {
  return new HttpError(400, 'bad_request', `Malformed multipart body: ${err.message}`);
}

function tooLarge(max: number) {
  return new HttpError(413, 'too_large', `The file is larger than the ${formatBytes(max)} limit`);
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
