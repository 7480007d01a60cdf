// Serving a stored file, whole or one byte range (RFC 9110 §14), so that browsers can seek in
// a video: 206 with Content-Range, 416 for a range past the end, Accept-Ranges on every answer.
// The body is streamed in chunks with uWS backpressure (tryEnd/onWritable), never read whole.
import fs from 'node:fs';
import type { Ctx } from './http.js';
import { HttpError, writeHead } from './http.js';

const CHUNK_BYTES = 256 * 1024;

export type ByteRange = { start: number; end: number };

/**
 * The one range a Range header asks for in a file of `size` bytes (end inclusive); null to send
 * the whole file (no header, a malformed one, or several ranges, which a server may answer
 * whole); 'unsatisfiable' when it starts past the end.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return null; // an invalid range-spec: the header is ignored
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** Sends `file` (honouring a Range header). Throws HttpError 416 for an unsatisfiable range. */
export async function sendFile(ctx: Ctx, file: string, contentType: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  let closed = false;
  const close = () => {
    if (!closed) void fh.close().catch(() => {});
    closed = true;
  };
  try {
    const { size } = await fh.stat();
    const range = parseRange(ctx.headers['range'], size);
    if (range === 'unsatisfiable') {
      throw new HttpError(416, 'range_not_satisfiable', `The range is outside the file (${size} bytes)`, { 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' });
    }
    if (ctx.aborted || ctx.done) return close();
    const start = range?.start ?? 0;
    const total = range ? range.end - range.start + 1 : size;
    const status = range ? 206 : 200;
    const headers: Record<string, string> = { 'Content-Type': contentType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'private, max-age=3600' };
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    ctx.onAbort = close;
    ctx.done = true;
    ctx.status = status;
    const res = ctx.res;
    let sent = 0;
    let headed = false;
    const finish = () => {
      close();
      ctx.onSent?.(ctx);
    };
    // Writes one chunk; true when the socket took it all (or the response is complete).
    const write = (chunk: Buffer): boolean => {
      let result = false;
      res.cork(() => {
        if (!headed) {
          writeHead(ctx, status, headers);
          headed = true;
        }
        if (total === 0) {
          res.end();
          result = true;
          return;
        }
        const before = res.getWriteOffset();
        const [ok, done] = res.tryEnd(chunk, total);
        if (done) result = true;
        else if (!ok) {
          res.onWritable((offset) => {
            const [ok2, done2] = res.tryEnd(chunk.subarray(offset - before), total);
            if (done2) finish();
            else if (ok2) void pump();
            return ok2;
          });
        } else result = true;
      });
      return result;
    };
    const pump = async (): Promise<void> => {
      try {
        while (!ctx.aborted) {
          const n = Math.min(CHUNK_BYTES, total - sent);
          const buf = Buffer.allocUnsafe(n);
          const { bytesRead } = n > 0 ? await fh.read(buf, 0, n, start + sent) : { bytesRead: 0 };
          if (ctx.aborted) break;
          if (n > 0 && bytesRead === 0) {
            res.cork(() => res.close()); // the file shrank under us: cut the connection, never send short
            break;
          }
          sent += bytesRead;
          const taken = write(buf.subarray(0, bytesRead));
          if (sent >= total && taken) return finish();
          if (!taken) return; // resumed by onWritable
        }
      } catch {
        if (!ctx.aborted) res.cork(() => res.close());
      }
      close();
    };
    await pump();
  } catch (err) {
    close();
    throw err;
  }
}
