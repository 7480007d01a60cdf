// A route registered with `body: true` may await (a shared store, a lock) before it reads the
// request body: uWS drops body bytes that arrive while no reader is attached, so the router keeps
// them (pausing the socket once enough is kept) until the handler's reader takes over. Real uWS
// app, real router, real fetch client.
import { createHash } from 'node:crypto';
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

test('an error thrown after a wait, body unread, is answered and the connection is usable', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/refuse`, { method: 'POST', body: body(300 * 1024), signal: AbortSignal.timeout(10_000) });
  assert.is(res.status, 409);
  assert.is((await res.json()).error.code, 'conflict');
  const again = await fetch(`http://127.0.0.1:${port}/late/0`, { method: 'POST', body: body(100), signal: AbortSignal.timeout(10_000) });
  assert.is(again.status, 200);
});

test.run();
