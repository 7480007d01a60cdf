// tus 1.0.0 protocol pieces shared by the method handlers: versions, extensions and strict parsing of the tus headers.
import type { Ctx } from '../../http.js';
import { HttpError } from '../../http.js';

export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = 'creation,creation-with-upload,termination,expiration,checksum';
export const TUS_CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'] as const;
export const OCTET = 'application/offset+octet-stream';


/** Parses `key base64,key2 base64,key3` (values optional). */
export function parseUploadMetadata(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null); // keys like "__proto__" are plain keys
  if (!raw || !raw.trim()) return out;
  for (const pair of raw.split(',')) {
    const [key, value, extra] = pair.trim().split(/\s+/);
    if (!key || extra !== undefined || !/^[\x21-\x7e]+$/.test(key) || key.includes(',')) {
      throw new HttpError(400, 'bad_request', 'Malformed Upload-Metadata: expected "key base64value" pairs separated by commas');
    }
    if (Object.hasOwn(out, key)) throw new HttpError(400, 'bad_request', `Upload-Metadata has the key "${key}" twice`);
    if (value === undefined) {
      out[key] = '';
      continue;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
      throw new HttpError(400, 'bad_request', `Upload-Metadata value of "${key}" is not base64`);
    }
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

/** A non-negative integer header, or null when absent; 400 when malformed. */
export function intHeader(ctx: Ctx, name: string): number | null {
  const raw = ctx.headers[name.toLowerCase()];
  if (raw === undefined) return null;
  if (!/^\d{1,16}$/.test(raw.trim())) throw new HttpError(400, 'bad_request', `${name} must be a non-negative integer`);
  return Number(raw.trim());
}

export function parseChecksum(raw: string | undefined): Checksum | null {
  if (raw === undefined) return null;
  const m = /^\s*([A-Za-z0-9-]+)\s+([A-Za-z0-9+/]+={0,2})\s*$/.exec(raw);
  if (!m) throw new HttpError(400, 'bad_request', 'Malformed Upload-Checksum: expected "<algorithm> <base64 digest>"');
  const algorithm = m[1].toLowerCase();
  if (!(TUS_CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new HttpError(400, 'bad_request', `Unsupported checksum algorithm "${m[1]}"; use one of ${TUS_CHECKSUM_ALGORITHMS.join(', ')}`);
  }
  return { algorithm, digest: Buffer.from(m[2], 'base64') };
}

/** Does the request carry a body we have not read (then an error answer closes the connection)? */
export function hasBody(ctx: Ctx): boolean {
  const cl = ctx.headers['content-length'];
  if (cl !== undefined) return cl.trim() !== '0';
  return ctx.headers['transfer-encoding'] !== undefined;
}


export type Checksum = { algorithm: string; digest: Buffer };

/** Whether the request's Content-Type is the tus body type. */
export function isOctetStream(ctx: Ctx): boolean {
  return (ctx.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === OCTET;
}
