// Operational endpoints: /health (open, for load balancers) and /metrics (Prometheus).
import type { VideoService } from '../../streams/service.js';
import { send, sendJson } from '../http.js';
import type { Metrics } from '../metrics.js';
import type { Handler, Router } from '../router.js';

const startedAt = Date.now();

export function registerOps(router: Router, service: VideoService, metrics: Metrics): void {
  const health: Handler = (ctx) => {
    const h = service.health();
    sendJson(ctx, 200, {
      status: h.status,
      problems: h.problems,
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

  router.add('get', '/metrics', 'metrics', (ctx) => {
    const st = service.stats();
    const gauges = [
      ...Object.entries(st.sessionsByStatus).map(([status, value]) => ({
        name: 'video_sessions',
        help: 'Sessions held, by status.',
        labels: { status },
        value,
      })),
      { name: 'video_queue_depth', help: 'Sessions waiting for an engine slot.', value: st.queued },
      { name: 'video_jobs_running', help: 'Analyses running now.', value: st.running },
      { name: 'video_uploads_open', help: 'Resumable uploads created and not finished.', value: st.openUploads },
      { name: 'video_engine_ready', help: '1 when the engine is ready.', value: st.engineReady ? 1 : 0 },
      { name: 'video_storage_writable', help: '1 when DATA_DIR takes writes.', value: st.storageWritable ? 1 : 0 },
      ...Object.entries(st.jobs).map(([outcome, value]) => ({
        name: 'video_jobs_total',
        help: 'Analyses since start, by outcome.',
        labels: { outcome },
        value,
      })),
    ];
    send(ctx, 200, metrics.render(gauges), 'text/plain; version=0.0.4; charset=utf-8');
  });
}
