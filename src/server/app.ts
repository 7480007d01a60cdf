// Assembles the uWebSockets.js app: routes, auth, metrics; start and stop.
import uWS from 'uWebSockets.js';
import type { Engine } from '../engine/types.js';
import { VideoService } from '../streams/service.js';
import { makeAuth } from './auth.js';
import { makeOriginPolicy } from './cors.js';
import type { Config } from './config.js';
import { HttpError } from './http.js';
import { Metrics } from './metrics.js';
import { Router } from './router.js';
import { registerLegacy } from './routes/legacy.js';
import { MEDIA_LINKS, registerMedia } from './routes/media.js';
import { registerOps } from './routes/ops.js';
import { registerSse } from './routes/sse.js';
import { registerStatic } from './routes/static.js';
import { registerTus } from './routes/tus/index.js';
import { registerV1 } from './routes/v1.js';
import { registerWs } from './ws.js';

type ListenWithOptions = { listen(host: string, port: number, options: number, cb: (sock: uWS.us_listen_socket | false) => void): void };

/** The address could not be bound: in use by another process, or not an address of this machine. */
export class ListenError extends Error {
  constructor(host: string, port: number) {
    super(`cannot listen on ${host}:${port}: the port is in use or the address is not available (PORT, HOST)`);
    this.name = 'ListenError';
  }
}

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
    maxOpenUploads: config.maxOpenUploads,
    mediaLinks: MEDIA_LINKS,
  });
  const report = service.start(); // takes DATA_DIR's lock: throws DataDirInUseError when another process has it
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
  registerMedia(router, service);
  const sse = registerSse(router, service);
  registerWs(app, service, authorize, makeOriginPolicy(config));
  registerLegacy(router, service, config);
  registerTus(router, service, config);
  registerStatic(router);
  router.add('any', '/*', 'not_found', () => {
    throw new HttpError(404, 'not_found', 'No such endpoint');
  }, { auth: false });

  // Exclusive: without it uWS sets SO_REUSEPORT, and a second instance on the same port would
  // silently take half of the connections.
  // (The options overload and the constant exist at runtime but not in this build's typings.)
  const listenSocket = await new Promise<uWS.us_listen_socket | false>((resolve) => {
    const exclusive = (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;
    (app as unknown as ListenWithOptions).listen(config.host, config.port, exclusive, resolve);
  });
  if (!listenSocket) {
    service.shutdown();
    (app as unknown as { close(): void }).close();
    throw new ListenError(config.host, config.port);
  }
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
