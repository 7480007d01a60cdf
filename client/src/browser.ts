// Browser entry: events over Server-Sent Events (EventSource, resuming with Last-Event-ID).
// Nothing here needs Node.
import { VideoClient as Base, type ClientOptions } from './client.js';
import { sseTransport } from './sse.js';
import { wsTransport } from './ws.js';

export * from './types.js';
export type { ClientOptions, ConnectionState, FollowOptions, Following, TusUploadHandle, TusUploadOptions } from './client.js';
export { sseTransport, wsTransport };

export class VideoClient extends Base {
  constructor(opts: Partial<ClientOptions> = {}) {
    super({ transport: sseTransport(), ...opts });
  }
}
