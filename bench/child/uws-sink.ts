// The socket ceiling of the ingest benchmark: a minimal uWS handler that writes each request's
// body to one file at its Upload-Offset (0 when absent) and answers 204 after the last byte.
// writeSync straight from uWS's chunk: no copy, no stream, nothing parsed. In its own process,
// like the servers it is compared with. Prints `READY {"port":…}`.
//
//   node dist/bench/child/uws-sink.js <file>
import { closeSync, openSync, writeSync } from 'node:fs';
import uWS from 'uWebSockets.js';
import { emit } from './proto.js';

const file = process.argv[2];

uWS
  .App()
  .any('/*', (res, req) => {
    let pos = Number(req.getHeader('upload-offset') || 0);
    const fd = openSync(file, pos === 0 ? 'w' : 'r+');
    let open = true;
    const close = () => {
      if (open) closeSync(fd);
      open = false;
    };
    res.onAborted(close);
    res.onData((chunk, isLast) => {
      const bytes = new Uint8Array(chunk);
      for (let done = 0; done < bytes.length; ) {
        const n = writeSync(fd, bytes, done, bytes.length - done, pos);
        done += n;
        pos += n;
      }
      if (isLast) {
        close();
        res.cork(() => res.writeStatus('204 No Content').end());
      }
    });
  })
  .listen('127.0.0.1', 0, (sock) => {
    if (!sock) throw new Error('uws-sink: cannot listen');
    emit('READY', { port: uWS.us_socket_local_port(sock) });
  });
