// Prometheus metrics through prom-client (its default process and Node.js metrics included),
// one Registry per server so that in-process test servers do not share counters.
// Names kept from the hand-written exposition: http_requests_total, http_request_duration_seconds,
// video_sessions, video_queue_depth, video_jobs_running, video_uploads_open, video_engine_ready,
// video_storage_writable, video_jobs_total (now a real counter).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceStats, VideoService } from '../streams/service.js';

/** Analyses take seconds to many minutes. */
const ANALYSIS_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route, method and status (long-lived SSE streams included, counted when they open).',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer, by route (SSE streams and WebSockets are not in it: see video_open_connections).',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly ingested = new Counter({
    name: 'video_ingested_bytes_total',
    help: 'Upload bytes received (multipart and tus bodies).',
    registers: [this.registry],
  });
  private readonly analysis = new Histogram({
    name: 'video_analysis_duration_seconds',
    help: 'Time from the start of an analysis to its end, by analysis type, engine and outcome.',
    labelNames: ['type', 'engine', 'outcome'] as const,
    buckets: ANALYSIS_BUCKETS,
    registers: [this.registry],
  });

  /** The service's numbers of the scrape being rendered (read once per scrape: with Redis they cost a round trip). */
  private stats: ServiceStats | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  request(route: string, method: string, status: number, seconds: number | null): void {
    this.requests.inc({ route, method, status: String(status) });
    if (seconds !== null) this.latency.observe({ route }, seconds);
  }

  ingest(bytes: number): void {
    this.ingested.inc(bytes);
  }

  /** Gauges and counters read from the service and the connection counts at scrape time. */
  observe(service: VideoService, connections: { sse: () => number; websocket: () => number }): void {
    const engine = service.engine.info.name;
    service.onSessionEnd((session, status, runMs) => {
      if (runMs !== null) this.analysis.observe({ type: session.meta.analysisType, engine, outcome: status }, runMs / 1000);
    });
    const r = [this.registry];
    const stats = () => this.stats;
    new Gauge({
      name: 'video_sessions',
      help: 'Sessions held, by status (absent while Redis is away).',
      labelNames: ['status'] as const,
      registers: r,
      collect() {
        this.reset();
        for (const [status, n] of Object.entries(stats()?.sessionsByStatus ?? {})) this.set({ status }, n);
      },
    });
    const gauge = (name: string, help: string, read: (s: ServiceStats) => number | null) =>
      new Gauge({
        name,
        help,
        registers: r,
        collect() {
          this.reset();
          const s = stats();
          const v = s ? read(s) : null;
          if (v !== null) this.set(v);
        },
      });
    gauge('video_queue_depth', 'Sessions waiting for an engine slot (in the whole cluster with Redis; absent while Redis is away).', (s) => s.queued);
    gauge('video_jobs_running', 'Analyses running now on this node.', (s) => s.running);
    gauge('video_uploads_open', 'Resumable uploads created on this node and not finished.', (s) => s.openUploads);
    gauge('video_engine_ready', '1 when the engine is ready.', (s) => (s.engineReady ? 1 : 0));
    gauge('video_storage_writable', '1 when DATA_DIR takes writes.', (s) => (s.storageWritable ? 1 : 0));
    gauge('video_draining', '1 once SIGTERM began a drain (no new uploads).', () => (service.isDraining ? 1 : 0));
    if (service.shared) gauge('vas_redis_connected', '1 while the Redis connection is up, 0 while it is away (only with REDIS_URL).', (s) => (s.redisConnected ? 1 : 0));
    new Gauge({
      name: 'vas_role',
      help: "The node's role (ROLE): 1 for the label it has.",
      labelNames: ['role'] as const,
      registers: r,
      collect() {
        this.reset();
        this.set({ role: stats()?.role ?? 'all' }, 1);
      },
    });
    new Gauge({
      name: 'video_open_connections',
      help: 'Open long-lived connections: SSE streams and WebSockets.',
      labelNames: ['kind'] as const,
      registers: r,
      collect() {
        this.set({ kind: 'sse' }, connections.sse());
        this.set({ kind: 'websocket' }, connections.websocket());
      },
    });
    new Counter({
      name: 'video_jobs_total',
      help: 'Analyses since start, by outcome (started, completed, failed, cancelled).',
      labelNames: ['outcome'] as const,
      registers: r,
      collect() {
        // the scheduler's counts only grow: set the counter to them
        this.reset();
        for (const [outcome, n] of Object.entries(stats()?.jobs ?? {})) this.inc({ outcome }, n);
      },
    });
  }

  /** The exposition, with the service's gauges set from `stats` (service.stats(), read by the caller). */
  async render(stats: ServiceStats | null = null): Promise<string> {
    this.stats = stats;
    try {
      return await this.registry.metrics();
    } finally {
      this.stats = null;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
