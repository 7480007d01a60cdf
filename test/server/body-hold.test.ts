// A route registered with `body: true` may await (a shared store, a lock) before it reads the
// request body: uWS drops body bytes that arrive while no reader is attached, so the router keeps
// them (pausing the socket once enough is kept) until the handler's reader takes over. Real uWS
// app, real router, real fetch client.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import uWS from 'uWebSockets.js';
import { pipeBody, sendJson, HttpError } from '../../src/server/http.js';
import { Metrics } from '../../src/server/metrics.js';
import { Router } from '../../src/server/router.js';
import { silentLogger } from '../../src/streams/log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let port = 0;
let listen: uWS.us_listen_socket;

test.before(async () => {
  const app = uWS.App();
  const router = new Router(app, new Metrics(), () => true, () => true, silentLogger);
  // Reads its body only after a wait far longer than the body takes to arrive.
  router.add('post', '/late/:ms', 'late', async (ctx) => {
    await sleep(Number(ctx.params[0]));
    const hash = createHash('sha256');
    let bytes = 0;
    await new Promise<void>((resolve) =>
      pipeBody(ctx, {
        write: (b) => {
          bytes += b.length;
          hash.update(b);
          return true;
        },
        onDrain: () => {},
        end: resolve,
      }),
    );
    sendJson(ctx, 200, { bytes, sha256: hash.digest('hex') });
  }, { body: true, auth: false });
  // The same into a Writable that is slower than the socket (as busboy is): its first write asks
  // for a pause, and a Writable that is ended never emits 'drain'.
  router.add('post', '/late-writable/:ms', 'late-writable', async (ctx) => {
    await sleep(Number(ctx.params[0]));
    let bytes = 0;
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        setTimeout(done, 5);
      },
    });
    await new Promise<void>((resolve) => {
      sink.on('finish', resolve);
      pipeBody(ctx, { write: (b) => sink.write(b), onDrain: (resume) => sink.once('drain', resume), end: () => sink.end() });
    });
    sendJson(ctx, 200, { bytes });
  }, { body: true, auth: false });
  // Refuses after a wait, without reading: the error is still answered cleanly.
  router.add('post', '/refuse', 'refuse', async () => {
    await sleep(50);
    throw new HttpError(409, 'conflict', 'refused after a wait');
  }, { body: true, auth: false });
  listen = await new Promise((resolve) => app.listen('127.0.0.1', 0, (s) => resolve(s as uWS.us_listen_socket)));
  port = uWS.us_socket_local_port(listen);
});
test.after(() => uWS.us_listen_socket_close(listen));

const body = (n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7919) & 0xff;
  return b;
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const size of [10, 64 * 1024, 5 * 1024 * 1024]) {
  test(`a ${size}-byte body read 100 ms after the request arrived is received whole`, async () => {
    const b = body(size);
    const res = await fetch(`http://127.0.0.1:${port}/late/100`, { method: 'POST', body: b, signal: AbortSignal.timeout(10_000) });
    assert.is(res.status, 200);
    assert.equal(await res.json(), { bytes: size, sha256: sha(b) });
  });
}

/** Writes raw HTTP on one socket and reads answers as they come (keep-alive checks). */
function rawClient() {
  const sock = net.connect(port, '127.0.0.1');
  let got = '';
  let waiting: (() => void) | null = null;
  sock.on('data', (d) => {
    got += d.toString('latin1');
    waiting?.();
  });
  sock.on('error', () => {});
  sock.on('close', () => waiting?.());
  /** The next whole answer (headers and Content-Length body), or null if none within `ms`. */
  const answer = async (ms: number): Promise<string | null> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = /\r\n\r\n/.exec(got);
      if (m) {
        const len = Number(/content-length: *(\d+)/i.exec(got.slice(0, m.index))?.[1] ?? 0);
        const end = m.index + 4 + len;
        if (got.length >= end) {
          const one = got.slice(0, end);
          got = got.slice(end);
          return one;
        }
      }
      if (sock.destroyed || Date.now() > deadline) return null;
      await new Promise<void>((r) => {
        waiting = r;
        setTimeout(r, 50);
      });
    }
  };
  return { sock, answer };
}

test('a body kept whole (its last chunk too) while the handler waited, into a sink that asked for a pause: the next request on the connection is answered', async () => {
  const { sock, answer } = rawClient();
  const b = body(200 * 1024);
  sock.write(`POST /late-writable/150 HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.length}\r\n\r\n`);
  // in pieces, so that the router keeps several chunks before the handler reads them
  for (let i = 0; i < b.length; i += 64 * 1024) {
    sock.write(b.subarray(i, i + 64 * 1024));
    await sleep(10);
  }
  const first = await answer(5000);
  assert.ok(first?.startsWith('HTTP/1.1 200'), String(first));
  assert.ok(first!.endsWith(JSON.stringify({ bytes: b.length })), first!);
  sock.write('POST /late/0 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
  const second = await answer(3000);
  sock.destroy();
  // without the fix the socket stays paused: no answer, then uWS's 10 s timeout closes it (a reset)
  assert.ok(second?.startsWith('HTTP/1.1 200'), `second request on the connection: ${second}`);
});

test('an error thrown after a wait, body unread, is answered and the connection is usable', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/refuse`, { method: 'POST', body: body(300 * 1024), signal: AbortSignal.timeout(10_000) });
  assert.is(res.status, 409);
  assert.is((await res.json()).error.code, 'conflict');
  const again = await fetch(`http://127.0.0.1:${port}/late/0`, { method: 'POST', body: body(100), signal: AbortSignal.timeout(10_000) });
  assert.is(again.status, 200);
});

test.run();
