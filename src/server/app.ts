// Assembles the uWebSockets.js app: routes, auth, metrics; start and stop.
import uWS from 'uWebSockets.js';
import type { Engine } from '../engine/types.js';
import { VideoService } from '../streams/service.js';
import { makeAuth } from './auth.js';
import type { Config } from './config.js';
import { HttpError } from './http.js';
import { Metrics } from './metrics.js';
import { Router } from './router.js';
import { registerLegacy } from './routes/legacy.js';
import { registerOps } from './routes/ops.js';
import { registerSse } from './routes/sse.js';
import { registerStatic } from './routes/static.js';
import { registerTus } from './routes/tus.js';
import { registerV1 } from './routes/v1.js';
import { registerWs } from './ws.js';

export interface RunningServer {
  port: number;
  service: VideoService;
  /** Stops listening, closes connections, marks running work interrupted, flushes the store. */
  close(): Promise<void>;
}

export async function startServer(config: Config, engine: Engine): Promise<RunningServer> {
  const service = new VideoService(engine, {
    dataDir: config.dataDir,
    concurrency: config.engineConcurrency,
    queueLimit: config.queueLimit,
    ttlMs: config.sessionTtlMs,
  });
  const report = service.start();
  if (report.restored) {
    console.log(
      `restored ${report.restored} sessions (${report.requeue.length} re-queued, ${report.interrupted} interrupted, ${report.uploading.length} uploads open)`,
    );
  }

  const app = uWS.App();
  const metrics = new Metrics();
  const authorize = makeAuth(config.apiToken);
  const router = new Router(app, metrics, authorize);
  registerOps(router, service, metrics);
  registerV1(router, service, config);
  const sse = registerSse(router, service);
  registerWs(app, service, authorize);
  registerLegacy(router, service, config);
  registerTus(router, service, config);
  registerStatic(router);
  router.add('any', '/*', 'not_found', () => {
    throw new HttpError(404, 'not_found', 'No such endpoint');
  }, { auth: false });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (sock) => (sock ? resolve(sock) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  const port = uWS.us_socket_local_port(listenSocket);

  let closed = false;
  return {
    port,
    service,
    async close() {
      if (closed) return;
      closed = true;
      uWS.us_listen_socket_close(listenSocket);
      sse.close();
      service.shutdown();
      (app as unknown as { close(): void }).close(); // present at runtime, missing from this build's typings
      await engine.close();
    },
  };
}
