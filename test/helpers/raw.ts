// Raw HTTP over net sockets, for requests no well-behaved client would send: broken framing,
// lying Content-Length, bodies cut off mid-way, sockets closed at once.
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent before closing (or before we stopped reading). */
  raw: string;
}

/** Parses the first HTTP response in `raw` (Content-Length framed, as this server answers; none for HEAD). */
export function parseResponse(raw: string, head = false): RawResponse | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = head ? 0 : Number(headers['content-length'] ?? 0);
  const bodyStart = end + 4;
  if (Buffer.byteLength(raw.slice(bodyStart)) < len) return null;
  return { status, headers, body: Buffer.from(raw.slice(bodyStart)).subarray(0, len).toString(), raw };
}

class Delay {
  constructor(readonly ms: number) {}
}
/** A pause between two parts of a raw request (so they reach the server in separate reads). */
export const delay = (ms: number) => new Delay(ms);

/**
 * Sends `parts` (written one after another) and resolves with the first response, or null when
 * the server closed the connection without one. `closeAfterSend` closes our side right after the
 * last part (an early hang-up) and resolves with null without waiting.
 */
export function rawRequest(port: number, parts: Array<string | Buffer | Delay>, opts: { closeAfterSend?: 'end' | 'destroy'; timeoutMs?: number } = {}): Promise<RawResponse | null> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const head = typeof parts[0] === 'string' && parts[0].startsWith('HEAD ');
    const parse = (raw: string) => parseResponse(raw, head);
    let raw = '';
    let done = false;
    const finish = (r: RawResponse | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(parse(raw)), opts.timeoutMs ?? 10_000);
    sock.on('error', () => finish(parse(raw)));
    sock.on('data', (d) => {
      raw += d.toString('latin1');
      const r = parse(raw);
      if (r) finish(r);
    });
    sock.on('close', () => finish(parse(raw)));
    sock.on('connect', async () => {
      for (const p of parts) {
        if (done) return;
        if (p instanceof Delay) await new Promise((r) => setTimeout(r, p.ms));
        else if (!sock.write(p)) await new Promise((r) => sock.once('drain', r));
      }
      if (opts.closeAfterSend === 'destroy') {
        sock.resetAndDestroy();
        finish(null);
      } else if (opts.closeAfterSend === 'end') {
        sock.end();
        finish(null);
      }
    });
  });
}

/** The head of a multipart POST with the given Content-Length (or none), and boundary XB. */
export function multipartHead(path: string, contentLength: number | null, extra = ''): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XB\r\n` +
    (contentLength === null ? '' : `Content-Length: ${contentLength}\r\n`) +
    extra +
    '\r\n'
  );
}

/** A file part's header (the field name and filename as given, raw). */
export const filePart = (name: string, filename: string | null) =>
  `--XB\r\nContent-Disposition: form-data; name="${name}"${filename === null ? '' : `; filename="${filename}"`}\r\nContent-Type: video/mp4\r\n\r\n`;

export const textPart = (name: string, value: string) => `--XB\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;

export const closing = '\r\n--XB--\r\n';
