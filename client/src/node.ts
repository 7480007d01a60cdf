// Node entry: events over WebSocket (the `ws` package), and uploads straight from a file path.
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { VideoClient as Base, type ClientOptions, type TusUploadHandle, type TusUploadOptions } from './client.js';
import { sseTransport } from './sse.js';
import type { UploadAccepted, UploadOptions } from './types.js';
import { wsTransport, type WebSocketLike } from './ws.js';

export * from './types.js';
export type { ClientOptions, ConnectionState, FollowOptions, Following, TusUploadHandle, TusUploadOptions } from './client.js';
export { sseTransport, wsTransport };

export class VideoClient extends Base {
  constructor(opts: Partial<ClientOptions> & { baseUrl: string }) {
    super({ transport: wsTransport((url) => new WebSocket(url) as unknown as WebSocketLike), ...opts });
  }

  /** Multipart upload of a Blob, or of a file on disk (streamed, never read whole). */
  override async upload(file: Blob | string, opts: UploadOptions = {}): Promise<UploadAccepted> {
    if (typeof file !== 'string') return super.upload(file, opts);
    return super.upload(await fs.openAsBlob(file), { ...opts, filename: opts.filename ?? path.basename(file) });
  }

  /** tus upload of a Buffer, a stream, or a file on disk (read as it goes, resumable at any offset). */
  override tusUpload(file: Buffer | NodeJS.ReadableStream | string, opts: TusUploadOptions = {}): TusUploadHandle {
    if (typeof file !== 'string') return super.tusUpload(file, opts);
    return super.tusUpload(fs.createReadStream(file), { ...opts, filename: opts.filename ?? path.basename(file) });
  }
}
