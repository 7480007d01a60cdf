// Prometheus text exposition of request counts and latencies plus gauges read at scrape time.

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  counts = new Array<number>(BUCKETS.length).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number) {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) this.counts[i]++;
  }
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly counters = new Map<string, number>();

  request(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${route}",method="${method}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hkey = `route="${route}"`;
    let h = this.latency.get(hkey);
    if (!h) this.latency.set(hkey, (h = new Histogram()));
    h.observe(seconds);
  }

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  render(gauges: Array<{ name: string; help: string; labels?: Record<string, string>; value: number }>): string {
    const lines: string[] = [];
    lines.push('# HELP http_requests_total HTTP requests by route, method and status.', '# TYPE http_requests_total counter');
    for (const [k, v] of this.requests) lines.push(`http_requests_total{${k}} ${v}`);
    lines.push('# HELP http_request_duration_seconds Time to answer, by route.', '# TYPE http_request_duration_seconds histogram');
    for (const [k, h] of this.latency) {
      BUCKETS.forEach((b, i) => lines.push(`http_request_duration_seconds_bucket{${k},le="${b}"} ${h.counts[i]}`));
      lines.push(`http_request_duration_seconds_bucket{${k},le="+Inf"} ${h.count}`);
      lines.push(`http_request_duration_seconds_sum{${k}} ${h.sum}`, `http_request_duration_seconds_count{${k}} ${h.count}`);
    }
    for (const [name, v] of this.counters) lines.push(`# TYPE ${name} counter`, `${name} ${v}`);
    const seen = new Set<string>();
    for (const g of gauges) {
      if (!seen.has(g.name)) {
        seen.add(g.name);
        lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      }
      const labels = g.labels ? `{${Object.entries(g.labels).map(([k, v]) => `${k}="${v}"`).join(',')}}` : '';
      lines.push(`${g.name}${labels} ${g.value}`);
    }
    return lines.join('\n') + '\n';
  }
}
