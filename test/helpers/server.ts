// Starts the real service for tests: in this process (startServer) or as a child process
// (`node dist/src/server/main.js`, for restart and signal tests). Always on 127.0.0.1 and a
// free port, with its own temporary DATA_DIR.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../../src/engine/index.js';
import { startServer, type RunningServer } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import { installContractChecks } from './contract.js';
import { startRedis, type TestRedis } from './redis.js';

// Every server suite imports this file: its responses are checked against the API documents.
installContractChecks();

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function tempDir(prefix = 'vas-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Upload files still being received (or left behind) under DATA_DIR/incoming, in every node's folder. */
export function incomingFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'incoming');
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.part'));
}

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  server: RunningServer;
  close(): Promise<void>;
}

/** TEST_STORE=redis (`node scripts/run-tests.mjs --store=redis`): servers keep their sessions and queue in Redis. */
export const TEST_STORE: 'journal' | 'redis' = process.env.TEST_STORE === 'redis' ? 'redis' : 'journal';

/**
 * Skips a test that is inherently about one process and its journal (DataDirLock, recovery from
 * the files on disk) when the store is Redis, saying why. Returns true when skipped.
 */
export function journalOnly(reason: string): boolean {
  if (TEST_STORE !== 'redis') return false;
  console.log(`  (skipped with TEST_STORE=redis: ${reason})`);
  return true;
}

let redis: Promise<TestRedis> | null = null;

/** The test file's own redis-server (started on first use, stopped when the process exits). */
export function testRedis(): Promise<TestRedis> {
  redis ??= startRedis().then((r) => {
    // it must not keep the test process alive, and must not outlive it
    r.proc.unref();
    (r.proc.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (r.proc.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    process.once('exit', () => {
      r.proc.kill('SIGKILL');
      fs.rmSync(r.dir, { recursive: true, force: true });
    });
    return r;
  });
  return redis;
}

/**
 * The Redis settings of a server on `dataDir` in redis mode (nothing in journal mode): servers on
 * one DATA_DIR share one key prefix (a restart finds its sessions), servers on different ones
 * never see each other's.
 */
export async function storeEnv(dataDir: string, env: Record<string, string> = {}): Promise<Record<string, string>> {
  if (TEST_STORE !== 'redis' || env.REDIS_URL !== undefined) return {};
  const r = await testRedis();
  const prefix = `t${createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 12)}:`;
  return { REDIS_URL: r.url, REDIS_PREFIX: prefix };
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = env.DATA_DIR ?? tempDir('vas-data-');
  // quiet unless asked for (TEST_LOG_LEVEL=debug): the test's stdout is the test report
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(await storeEnv(dataDir, env)),
    ...env,
    DATA_DIR: dataDir,
  });
  const server = await startServer(config, createEngine({ modelDir: config.modelDir, maxTokens: config.modelMaxTokens }));
  const url = `http://127.0.0.1:${server.port}`;
  return { url, port: server.port, dataDir, server, close: () => server.close() };
}

export interface ChildServer {
  url: string;
  port: number;
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs `npm start`'s entry point as a child process and waits until it listens. `wrap` runs it
 * under another command (e.g. ['prlimit', '--nofile=64', '--']).
 */
export async function spawnServer(env: Record<string, string>, opts: { wrap?: string[] } = {}): Promise<ChildServer> {
  const argv = [...(opts.wrap ?? []), process.execPath, path.join(ROOT, 'dist/src/server/main.js')];
  const store = env.DATA_DIR ? await storeEnv(env.DATA_DIR, env) : {};
  const proc = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...store, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 15_000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => reject(Object.assign(new Error(`server exited (${code}):\n${out}`), { exitCode: code })));
  });
  return { url: `http://127.0.0.1:${port}`, port, proc, output: () => out, exited };
}

/** Multipart upload with fetch; the file is streamed from disk. */
export async function upload(
  url: string,
  file: string | null,
  fields: Record<string, string> = {},
  opts: { fileField?: string; headers?: Record<string, string>; filename?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append(opts.fileField ?? 'file', await fs.openAsBlob(file), opts.filename ?? path.basename(file));
  return readResponse(await fetch(url, { method: 'POST', body: form, headers: opts.headers }));
}

/** Status, headers and the body parsed as JSON when it is JSON. */
async function readResponse(res: Response): Promise<{ status: number; body: any; headers: Headers }> {
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

export async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  return readResponse(await fetch(url, init));
}

/** Polls the status endpoint until `done(status)` or the timeout. */
export async function pollStatus(base: string, id: string, done: (s: any) => boolean, timeoutMs = 60_000, init: RequestInit = {}): Promise<any> {
  const until = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < until) {
    const r = await getJson(`${base}/api/v1/video/status/${id}`, init);
    last = r.body;
    if (r.status === 200 && done(r.body)) return r.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for session ${id}; last status ${JSON.stringify(last)}`);
}

export const isTerminalStatus = (s: any) => ['completed', 'failed', 'cancelled'].includes(s?.status);

export function sharedMedia(name = ''): string | null {
  const dir = path.resolve(ROOT, '..', 'shared', 'media');
  return fs.existsSync(dir) ? path.join(dir, name) : null;
}
