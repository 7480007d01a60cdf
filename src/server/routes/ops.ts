// Operational endpoints: /health (open, for load balancers) and /metrics (Prometheus).
import type { VideoService } from '../../streams/service.js';
import { send, sendJson } from '../http.js';
import type { Metrics } from '../metrics.js';
import type { Handler, Router } from '../router.js';

const startedAt = Date.now();

export function registerOps(router: Router, service: VideoService, metrics: Metrics): void {
  const health: Handler = (ctx) => {
    const engine = service.engine.health();
    const overall = service.health();
    sendJson(ctx, 200, {
      status: overall.status,
      problems: overall.problems,
      engine: { ...service.engine.info, ready: engine.ready, state: engine.state, detail: engine.detail ?? null },
      storage: { writable: overall.storage.writable, free_bytes: overall.storage.freeBytes },
      queue: { running: service.scheduler.active, queued: service.scheduler.queued, ...service.scheduler.limits },
      uploads: { open: service.openUploadCount },
      sessions: service.store.size,
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    });
  };
  router.add('get', '/health', 'health', health, { auth: false });
  // Load balancers often probe with HEAD: same status and headers, no body (see send).
  router.add('head', '/health', 'health', health, { auth: false });

  router.add('get', '/metrics', 'metrics', (ctx) => {
    const health = service.engine.health();
    const gauges = [
      ...Object.entries(service.counts()).map(([status, value]) => ({
        name: 'video_sessions',
        help: 'Sessions held, by status.',
        labels: { status },
        value,
      })),
      { name: 'video_queue_depth', help: 'Sessions waiting for an engine slot.', value: service.scheduler.queued },
      { name: 'video_jobs_running', help: 'Analyses running now.', value: service.scheduler.active },
      { name: 'video_engine_ready', help: '1 when the engine is ready.', value: health.ready ? 1 : 0 },
      ...Object.entries(service.scheduler.stats).map(([outcome, value]) => ({
        name: 'video_jobs_total',
        help: 'Analyses since start, by outcome.',
        labels: { outcome },
        value,
      })),
    ];
    send(ctx, 200, metrics.render(gauges), 'text/plain; version=0.0.4; charset=utf-8');
  });
}
