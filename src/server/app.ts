// Assembles the uWebSockets.js app: routes, auth, metrics; start and stop.
import uWS from 'uWebSockets.js';
import type { Engine } from '../engine/types.js';
import { VideoService } from '../streams/service.js';
import type { RecoveryReport } from '../streams/stores.js';
import { openBackend } from './backend.js';
import { makeAuth } from './auth.js';
import { makeOriginPolicy } from './cors.js';
import type { Config } from './config.js';
import { HttpError } from './http.js';
import { sessionLinks } from './links.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Router } from './router.js';
import { registerDocs } from './routes/docs.js';
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
  log: Logger;
  /** Every HTTP path the server answers, with its methods. */
  routes: Array<{ pattern: string; methods: string[] }>;
  /**
   * A graceful stop (SIGTERM): no new uploads (503), running analyses get up to graceMs to
   * finish, then close().
   */
  drain(graceMs: number): Promise<void>;
  /**
   * Stops listening, closes connections (SSE, WebSocket), stops running analyses without a
   * terminal event (the next start deals with them), flushes the store.
   */
  close(): Promise<void>;
}

export async function startServer(config: Config, engine: Engine, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  // Redis (REDIS_URL) for the sessions, logs and queue of several nodes; else the journal of this process.
  const backend = config.redisUrl ? await openBackend(config, log) : null;
  const service = new VideoService(engine, {
    backend: backend ?? undefined,
    role: config.role,
    runJobs: config.role !== 'api',
    jobLeaseMs: config.jobLeaseMs,
    dataDir: config.dataDir,
    concurrency: config.engineConcurrency,
    queueLimit: config.queueLimit,
    ttlMs: config.sessionTtlMs,
    videoTtlMs: config.videoTtlMs,
    maxOpenUploads: config.maxOpenUploads,
    maxAttempts: config.maxAttempts,
    log,
    webhooks: {
      defaultUrl: config.webhookUrl,
      secret: config.webhookSecret,
      retryBaseMs: config.webhookRetryBaseMs,
      maxAgeMs: config.webhookMaxAgeMs,
    },
    resultsUrl: (id) => sessionLinks(id).results,
    mediaLinks: MEDIA_LINKS,
  });
  let report: RecoveryReport;
  try {
    report = await service.start(); // takes DATA_DIR's lock (journal mode): throws DataDirInUseError when another process has it
  } catch (err) {
    await backend?.close();
    throw err;
  }
  if (report.restored) {
    log.info(
      { restored: report.restored, requeued: report.requeue.length, resumed: report.resumed, uploadsOpen: report.uploading.length },
      `restored ${report.restored} sessions (${report.requeue.length} re-queued, ${report.resumed} of them interrupted runs, ${report.uploading.length} uploads open)`,
    );
  }
  const modelLoad = (engine as { ready?: () => Promise<void> }).ready;
  if (modelLoad) {
    void modelLoad.call(engine).then(() => {
      const h = engine.health();
      if (h.state === 'degraded') log.error({ engine: engine.info.name, model: engine.info.model }, `engine: ${h.detail ?? 'degraded'}`);
      else log.info({ engine: engine.info.name, model: engine.info.model }, 'model loaded');
    });
  }

  const app = uWS.App();
  const metrics = new Metrics();
  const authorize = makeAuth(config.apiToken);
  const originPolicy = makeOriginPolicy(config);
  const router = new Router(app, metrics, authorize, originPolicy, log);
  registerOps(router, service, metrics);
  // A worker runs analyses and serves only /health and /metrics.
  const sse = config.role === 'worker' ? null : registerSse(router, service);
  const ws = config.role === 'worker' ? null : registerWs(app, service, authorize, originPolicy);
  metrics.observe(service, { sse: () => sse?.count() ?? 0, websocket: () => ws?.count() ?? 0 });
  if (config.role !== 'worker') {
    registerDocs(router);
    registerV1(router, service, config);
    registerMedia(router, service);
    registerLegacy(router, service, config);
    registerTus(router, service, config);
    registerStatic(router);
  }
  router.finish();
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
    await service.shutdown();
    await backend?.close();
    (app as unknown as { close(): void }).close();
    throw new ListenError(config.host, config.port);
  }
  const port = uWS.us_socket_local_port(listenSocket);

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    uWS.us_listen_socket_close(listenSocket);
    sse?.close();
    await service.shutdown();
    await backend?.close();
    (app as unknown as { close(): void }).close(); // present at runtime, missing from this build's typings
    await engine.close();
  };
  return {
    port,
    service,
    log,
    routes: router.known(),
    async drain(graceMs: number) {
      const left = await service.drain(graceMs);
      if (left) log.warn({ running: left, graceMs }, 'shutdown grace over: stopping the analyses still running; they run again at the next start');
      await close();
    },
    close,
  };
}
