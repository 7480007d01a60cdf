// wrk (C, epoll) as the HTTP load generator: one wrk thread saturates a single-threaded Node
// server with a core to spare, where one autocannon process saturated before the server did.
// `bash scripts/setup.sh` installs it (Debian package `wrk`).
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function hasWrk(): boolean {
  return !spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error;
}

// wrk's own summary is text for humans; its done() hook prints the figures as one JSON line.
// Latencies are in microseconds.
const REPORT_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"socketErrors":%d,"badStatus":%d,"timeouts":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

export interface WrkResult {
  rps: number;
  requests: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

export interface WrkSpec {
  url: string;
  connections: number;
  threads: number;
  seconds: number;
}

export function wrk(spec: WrkSpec): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vas-bench-wrk-'));
  const script = join(dir, 'report.lua');
  writeFileSync(script, REPORT_LUA);
  const args = ['-t', String(spec.threads), '-c', String(spec.connections), '-d', `${spec.seconds}s`, '--timeout', '5s', '-s', script, spec.url];
  return new Promise<WrkResult>((resolve, reject) => {
    execFile('wrk', args, { timeout: (spec.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      const m = /^WRKJSON (.*)$/m.exec(stdout);
      if (err || !m) return reject(new Error(`wrk ${args.join(' ')} failed: ${err?.message ?? ''}\n${stdout}\n${stderr}`));
      const r = JSON.parse(m[1]);
      if (r.socketErrors || r.badStatus || r.timeouts) {
        return reject(new Error(`${spec.url}: ${r.socketErrors} socket errors, ${r.badStatus} non-2xx/3xx, ${r.timeouts} timeouts`));
      }
      resolve({ rps: r.requests / (r.durationUs / 1e6), requests: r.requests, p50: r.p50 / 1000, p99: r.p99 / 1000, max: r.max / 1000 });
    });
  });
}
