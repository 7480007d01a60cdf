// A cluster of real service processes for the cluster tests and benchmarks: each node is
// `node dist/src/server/main.js` (what `npm start` runs) with REDIS_URL, ROLE and NODE_ID, all on
// one shared DATA_DIR and one redis-server of their own (test/helpers/redis.ts). Nodes keep their
// port across kill -9 and restart, so a load balancer in front of them keeps its backend list.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis, type TestRedis } from './redis.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
/** What a node's output keeps (the tail), enough for a failure's diagnosis. */
const OUTPUT_KEEP = 256 * 1024;

export type NodeRole = 'all' | 'api' | 'worker';

export interface ClusterNode {
  name: string;
  role: NodeRole;
  port: number;
  url: string;
  /** The running process, null while stopped. */
  proc: ChildProcess | null;
  alive(): boolean;
  /** Everything the node printed over all its runs (the tail), for failure messages. */
  output(): string;
  /** Sends `signal` (default SIGKILL: the machine is gone) and waits until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts the node (again) on its port; resolves once it listens and answers /health. */
  start(): Promise<void>;
  /** GET /health: HTTP status and body. */
  health(): Promise<{ status: number; body: any }>;
}

export interface Cluster {
  redis: TestRedis;
  dataDir: string;
  prefix: string;
  nodes: ClusterNode[];
  api: ClusterNode[];
  workers: ClusterNode[];
  node(name: string): ClusterNode;
  /** Kills every node (SIGKILL), stops Redis, deletes DATA_DIR. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** ROLE=all nodes (named all1, all2…), before the api nodes. */
  all?: number;
  api?: number;
  workers?: number;
  /** Extra environment for every node (e.g. JOB_LEASE, ENGINE_CONCURRENCY). */
  env?: Record<string, string>;
  /** Per node name: extra environment for that node. */
  nodeEnv?: Record<string, Record<string, string>>;
  /** Redis persistence (restart tests): AOF with this fsync policy. */
  appendonly?: 'everysec' | 'always';
}

/** Why cluster tests cannot run here (no redis-server), or null when they can. */
export function clusterUnavailable(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error) return `redis-server is not installed (scripts/setup.sh installs it): ${r.error.message}`;
  return null;
}

/**
 * For a test file: true (and the reason printed) when it must skip because redis-server is
 * missing. CI has it, so there the tests always run.
 */
export function skipWithoutRedis(file: string): boolean {
  const why = clusterUnavailable();
  if (why) console.log(`  ${file}: skipped: ${why}`);
  return why !== null;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function clusterNode(name: string, role: NodeRole, port: number, env: Record<string, string>): ClusterNode {
  let out = '';
  let exited: Promise<number | null> = Promise.resolve(null);
  const node: ClusterNode = {
    name,
    role,
    port,
    url: `http://127.0.0.1:${port}`,
    proc: null,
    alive: () => !!node.proc && node.proc.exitCode === null && node.proc.signalCode === null,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (!node.alive()) return node.proc?.exitCode ?? null;
      node.proc!.kill(signal);
      return exited;
    },
    async start() {
      if (node.alive()) throw new Error(`${name} is already running`);
      const proc = spawn(process.execPath, [path.join(ROOT, 'dist/src/server/main.js')], {
        env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: process.env.TEST_CLUSTER_LOG ?? 'warn', ...env, PORT: String(port), ROLE: role, NODE_ID: name },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      node.proc = proc;
      live.add(proc);
      const add = (d: Buffer) => {
        out += d;
        if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
      };
      proc.stdout!.on('data', add);
      proc.stderr!.on('data', add);
      exited = new Promise((r) =>
        proc.on('exit', (code, sig) => {
          live.delete(proc);
          out += `\n[${name} exited: ${code ?? sig}]\n`;
          r(code);
        }),
      );
      const from = out.length;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name} did not start:\n${out.slice(-4000)}`)), 20_000);
        const check = () => {
          if (out.slice(from).includes(`listening on http://127.0.0.1:${port}`)) {
            clearTimeout(t);
            proc.stdout!.off('data', check);
            resolve();
          }
        };
        proc.stdout!.on('data', check);
        exited.then(() => {
          clearTimeout(t);
          reject(new Error(`${name} exited while starting:\n${out.slice(-4000)}`));
        });
      });
      // listening is announced once the socket is bound; /health tells that it serves
      await waitFor(async () => (await node.health().catch(() => null)) !== null, 10_000, `${name} /health`);
    },
    async health() {
      const res = await fetch(`${node.url}/health`);
      return { status: res.status, body: await res.json() };
    },
  };
  return node;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const redis = await startRedis(opts.appendonly ? { appendonly: opts.appendonly } : {});
  const dataDir = tempDir('vas-cluster-');
  const prefix = 'vas:';
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, DATA_DIR: dataDir, ...opts.env };
  const specs: [string, NodeRole][] = [
    ...Array.from({ length: opts.all ?? 0 }, (_, i) => [`all${i + 1}`, 'all'] as [string, NodeRole]),
    ...Array.from({ length: opts.api ?? 2 }, (_, i) => [`api${i + 1}`, 'api'] as [string, NodeRole]),
    ...Array.from({ length: opts.workers ?? 2 }, (_, i) => [`worker${i + 1}`, 'worker'] as [string, NodeRole]),
  ];
  const nodes: ClusterNode[] = [];
  for (const [name, role] of specs) nodes.push(clusterNode(name, role, await freePort(), { ...env, ...opts.nodeEnv?.[name] }));
  const cluster: Cluster = {
    redis,
    dataDir,
    prefix,
    nodes,
    api: nodes.filter((n) => n.role === 'api'),
    workers: nodes.filter((n) => n.role === 'worker'),
    node(name) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name}`);
      return n;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
      await redis.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    // one at a time: two cores, and a clear message naming the node that did not come up
    for (const n of nodes) await n.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Polls `cond` every 50 ms until it is true; throws naming `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The worker running a job right now (its /health queue.running > 0), waiting for one. */
export async function busyWorker(cluster: Cluster, timeoutMs = 60_000): Promise<ClusterNode> {
  let found: ClusterNode | undefined;
  await waitFor(
    async () => {
      for (const w of cluster.workers) {
        if (!w.alive()) continue;
        const h = await w.health().catch(() => null);
        if (h && h.body?.queue?.running > 0) {
          found = w;
          return true;
        }
      }
      return false;
    },
    timeoutMs,
    'a worker to run the job',
  );
  return found!;
}

/** The last lines of every node's output: what a failing cluster test prints. */
/** Runs a test's body; on failure adds every node's last output to the error. */
export async function withLogs(cluster: Cluster, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    (err as Error).message += `\n${clusterOutput(cluster)}`;
    throw err;
  }
}

export function clusterOutput(cluster: Cluster, chars = 3000): string {
  return cluster.nodes.map((n) => `--- ${n.name} (${n.role}, port ${n.port}) ---\n${n.output().slice(-chars)}`).join('\n');
}
