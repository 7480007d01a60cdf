// A real redis-server for one test file: its own free port and temporary directory, no
// persistence unless asked (`appendonly` for restart tests), stopped by stop(). Tests never use a
// Redis that happens to be running.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// not server.ts's tempDir: importing server.ts installs the contract checks, which the
// benchmarks that start Redis through this file must not pay for
const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s). */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port and directory (what AOF kept survives). */
  restart(): Promise<void>;
  output(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(opts: { appendonly?: 'everysec' | 'always'; port?: number; dir?: string } = {}): Promise<TestRedis> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? tempDir('vas-redis-');
  let out = '';
  const launch = async (): Promise<ChildProcess> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
    args.push(...(opts.appendonly ? ['--appendonly', 'yes', '--appendfsync', opts.appendonly] : ['--appendonly', 'no']));
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      proc.on('error', (err) => reject(new Error(`redis-server could not run (is it installed? scripts/setup.sh installs it): ${err.message}`)));
      proc.on('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${out}`)));
      proc.stdout!.on('data', () => {
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    return proc;
  };
  const stopProc = (p: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      const kill = setTimeout(() => p.kill('SIGKILL'), 2000);
      p.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      p.kill('SIGTERM');
    });
  const r: TestRedis = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    dir,
    proc: await launch(),
    async stop() {
      await stopProc(r.proc);
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopProc(r.proc);
      out = '';
      r.proc = await launch();
    },
    output: () => out,
  };
  return r;
}
