// Operational endpoints: /health (open, for load balancers) and /metrics (Prometheus).
import type { VideoService } from '../../streams/service.js';
import { send, sendJson } from '../http.js';
import type { Metrics } from '../metrics.js';
import type { Handler, Router } from '../router.js';

const startedAt = Date.now();

export function registerOps(router: Router, service: VideoService, metrics: Metrics): void {
  const health: Handler = async (ctx) => {
    const h = await service.health();
    // 503 while draining, so that load balancers send new work elsewhere
    const draining = service.isDraining;
    sendJson(ctx, draining ? 503 : 200, {
      status: draining ? 'draining' : h.status,
      problems: h.problems,
      role: h.role,
      redis: h.redis,
      engine: h.engine,
      storage: { writable: h.storage.writable, free_bytes: h.storage.freeBytes },
      queue: h.queue,
      uploads: { open: h.openUploads },
      sessions: h.sessions,
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    });
  };
  router.add('get', '/health', 'health', health, { auth: false });
  // Load balancers often probe with HEAD: same status and headers, no body (see send).
  router.add('head', '/health', 'health', health, { auth: false });

  router.add('get', '/metrics', 'metrics', async (ctx) => {
    const text = await metrics.render(await service.stats());
    send(ctx, 200, text, metrics.contentType);
  });
}
