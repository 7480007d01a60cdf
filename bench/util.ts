// Helpers shared by the benchmarks: media generation with the ffmpeg CLI, temporary folders,
// percentiles, the real server in this process or in a child, and child-process plumbing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSignalEngine } from '../src/engine/index.js';
import { startServer, type RunningServer } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';

const run = promisify(execFile);

export { emit, nowMs, onParentLine, percentile, summarize } from './child/proto.js';

/** dist/bench (where the compiled benchmark modules live). */
export const BENCH_DIST = dirname(fileURLToPath(import.meta.url));
/** Repository root (dist/bench/../..). */
export const ROOT = resolve(BENCH_DIST, '..', '..');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ffmpeg failed: ${e.stderr || e.message}`);
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Generated media are cached here between runs (never inside the repository). */
export function mediaDir(): string {
  const dir = join(tmpdir(), 'vas-bench-media');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A testsrc2 + tone clip, H.264 (x264 veryfast) and AAC in MP4, 30 fps; cached by its parameters. */
export async function testClip(seconds: number, w: number, h: number): Promise<string> {
  const path = join(mediaDir(), `testsrc2_${w}x${h}_${seconds}s_x264.mp4`);
  if (!existsSync(path)) {
    await ffmpeg([
      '-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=30:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', `${path}.${process.pid}.tmp.mp4`,
    ]);
    renameSync(`${path}.${process.pid}.tmp.mp4`, path);
  }
  return path;
}



export interface BenchServer {
  url: string;
  port: number;
  dataDir: string;
  server: RunningServer;
  close(): Promise<void>;
}

/** The real service (uWS app + session store + signal engine) in this process, on 127.0.0.1. */
export async function startBenchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  const dataDir = tempDir('vas-bench-data-');
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env, DATA_DIR: dataDir });
  const server = await startServer(config, createSignalEngine());
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    dataDir,
    server,
    close: async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Child {
  proc: ChildProcess;
  /** Lines the child printed as `READY <json>` / `RESULT <json>`. */
  message(kind: string, timeoutMs?: number): Promise<any>;
  send(line: string): void;
  exited: Promise<number | null>;
  output(): string;
}

/**
 * Starts `node <script> ...args` with a line protocol on stdout: the child prints
 * `KIND <json>` lines, the parent waits for them; the parent writes lines to its stdin.
 */
export function startChild(script: string, args: string[] = [], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--enable-source-maps', script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let buf = '';
  const seen: { kind: string; data: any }[] = [];
  const waiters: { kind: string; resolve: (d: any) => void }[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d;
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^([A-Z]+) (.*)$/.exec(line);
      if (!m) continue;
      let data: any = m[2];
      try {
        data = JSON.parse(m[2]);
      } catch {}
      const w = waiters.findIndex((x) => x.kind === m[1]);
      if (w >= 0) waiters.splice(w, 1)[0].resolve(data);
      else seen.push({ kind: m[1], data });
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    exited,
    output: () => out,
    send: (line) => proc.stdin!.write(line + '\n'),
    message(kind, timeoutMs = 120_000) {
      const i = seen.findIndex((x) => x.kind === kind);
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0].data);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`child ${script} sent no ${kind} within ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
        exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`child ${script} exited (${code}) before ${kind}:\n${out.slice(-2000)}`));
        });
        waiters.push({ kind, resolve: (d) => (clearTimeout(t), resolve(d)) });
      });
    },
  };
}



/** Resident memory of a process (VmRSS) and its peak since start (VmHWM), in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export async function stopChild(c: Child, timeoutMs = 5000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), timeoutMs);
  await c.exited;
  clearTimeout(t);
}

/** Multipart upload with fetch, the file streamed from disk; returns status and parsed body. */
export async function uploadFile(base: string, file: string, fields: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const { openAsBlob } = await import('node:fs');
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', await openAsBlob(file), 'clip.mp4');
  const res = await fetch(`${base}/api/v1/video/upload`, { method: 'POST', body: form });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

/** Polls status until `done` or the timeout. */
export async function waitStatus(base: string, id: string, done: (s: any) => boolean, timeoutMs = 120_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < until) {
    const r = await fetch(`${base}/api/v1/video/status/${id}`);
    last = await r.json();
    if (r.status === 200 && done(last)) return last;
    await sleep(50);
  }
  throw new Error(`session ${id} did not get there in time; last status ${JSON.stringify(last)}`);
}
