// The benchmark suite: `npm run bench [-- --quick] [-- --only reads,fanout]`.
//
// Each benchmark runs in its own Node process (this file with --child NAME), so a crash, a
// native thread or a leak in one cannot disturb the next. Results go to the terminal and to
// bench/results/latest.md and latest.json. Timing never fails the run: the exit code is
// non-zero only when a benchmark crashed (threw, died, or hung past its time limit).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, machine, markdown, SkipBench, writeReport, type BenchOptions, type Failure, type Report, type Row, type Skip } from './report.js';
import { ROOT } from './util.js';

type BenchFn = (opts: BenchOptions) => Promise<Row[]>;

const BENCHES: Record<string, () => Promise<BenchFn>> = {
  reads: async () => (await import('./reads.js')).run,
  fanout: async () => (await import('./fanout.js')).run,
  cluster: async () => (await import('./cluster.js')).run,
  'redis-cost': async () => (await import('./redis-cost.js')).run,
  ingest: async () => (await import('./ingest.js')).run,
  engine: async () => (await import('./engine.js')).run,
  cancel: async () => (await import('./cancel.js')).run,
  media: async () => (await import('./media.js')).run,
  smolvlm: async () => (await import('./model.js')).run,
};

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag('--quick');

async function child(name: string, out: string): Promise<void> {
  const { writeFileSync } = await import('node:fs');
  const fn = await BENCHES[name]();
  try {
    const rows = await fn({ quick, log: (l) => console.log(`  [${name}] ${l}`) });
    writeFileSync(out, JSON.stringify({ rows }));
  } catch (err) {
    if (!(err instanceof SkipBench)) throw err;
    writeFileSync(out, JSON.stringify({ rows: [], skipped: err.message }));
  }
}

function runChild(name: string, out: string, limitMs: number): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--enable-source-maps', fileURLToPath(import.meta.url), '--child', name, '--out', out, ...(quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, limitMs);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, timedOut });
    });
  });
}

async function main(): Promise<number> {
  const only = value('--only')?.split(',').filter(Boolean);
  const names = Object.keys(BENCHES).filter((n) => !only || only.includes(n));
  const unknown = (only ?? []).filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    return 2;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'vas-bench-run-'));
  const rows: Row[] = [];
  const failures: Failure[] = [];
  const skipped: Skip[] = [];
  const loads: Record<string, string> = {};
  const seconds: Record<string, number> = {};
  const limitMs = (quick ? 5 : 20) * 60_000;
  console.log(`benchmarks (${quick ? 'quick' : 'full'}) on ${machine()}; other work on this machine makes the figures noisy`);
  for (const name of names) {
    loads[name] = load();
    console.log(`\n== ${name} (load average ${loads[name]})`);
    const out = join(tmp, `${name}.json`);
    const t0 = performance.now();
    const r = await runChild(name, out, limitMs);
    seconds[name] = (performance.now() - t0) / 1000;
    if (r.code === 0 && existsSync(out)) {
      const got = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[]; skipped?: string };
      rows.push(...got.rows);
      if (got.skipped) {
        skipped.push({ bench: name, reason: got.skipped });
        console.log(`-- ${name} skipped: ${got.skipped}`);
      }
    } else {
      const why = r.timedOut ? `hung past ${limitMs / 60_000} min` : `exited with ${r.code ?? r.signal}`;
      failures.push({ bench: name, error: why });
      console.log(`!! ${name} crashed: ${why}`);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  const report: Report = {
    date: new Date().toISOString(),
    machine: machine(),
    node: process.version,
    mode: quick ? 'quick' : 'full',
    rows,
    failures,
    skipped,
    loads,
    seconds,
  };
  const dir = join(ROOT, 'bench', 'results');
  writeReport(report, join(dir, 'latest.md'), join(dir, 'latest.json'));
  console.log('\n' + markdown(report));
  console.log(`written to ${join(dir, 'latest.md')} and latest.json`);
  return failures.length ? 1 : 0;
}

const childName = value('--child');
if (childName) {
  await child(childName, value('--out')!);
  process.exit(0); // servers, sockets and native threads of the benchmark need not wind down
} else {
  process.exitCode = await main();
}
