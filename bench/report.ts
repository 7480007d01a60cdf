// Result rows of the benchmark suite and their rendering: every figure stands next to a
// baseline measured in the same run, with the ratio ours / baseline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';

export interface Row {
  /** Benchmark group: reads, fanout, cluster, redis-cost, ingest, engine, cancel, media, smolvlm. */
  bench: string;
  /** What is measured, e.g. "GET status req/s (c=50)". */
  metric: string;
  value: number;
  unit: string;
  /** What the figure is compared with, e.g. "bare uWS (ceiling)". */
  baseline: string;
  baselineValue: number;
  /** Which direction is good for this metric. */
  better: 'higher' | 'lower';
  note?: string;
}

export interface BenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

/** Thrown by a benchmark that cannot run here (a missing tool): reported, not a crash. */
export class SkipBench extends Error {}

export interface Skip {
  bench: string;
  reason: string;
}

export interface Failure {
  bench: string;
  error: string;
}

export interface Report {
  date: string;
  machine: string;
  node: string;
  mode: 'quick' | 'full';
  rows: Row[];
  failures: Failure[];
  skipped: Skip[];
  seconds: Record<string, number>;
  /** Load average when each benchmark started: what else the machine was doing. */
  loads: Record<string, string>;
}

export function ratio(r: Row): number | null {
  if (!Number.isFinite(r.value) || !Number.isFinite(r.baselineValue) || r.baselineValue === 0) return null;
  return r.value / r.baselineValue;
}

export function machine(): string {
  const c = cpus();
  return `${c.length} cores (${c[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.versions.node}`;
}

/** The 1, 5 and 15 minute load averages, e.g. "0.52 0.31 0.12". */
export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** 3 significant digits, no exponent for ordinary magnitudes. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

export function markdown(rep: Report): string {
  const lines = [
    `Benchmarks (${rep.mode}) — ${rep.date} — ${rep.machine}`,
    '',
    '| bench | measure | ours | baseline | baseline value | ours / baseline |',
    '| --- | --- | ---: | --- | ---: | ---: |',
  ];
  for (const r of rep.rows) {
    const q = ratio(r);
    const arrow = r.better === 'higher' ? '↑' : '↓';
    lines.push(
      `| ${r.bench} | ${r.metric} (${r.unit}, ${arrow} better) | ${fmt(r.value)} | ${r.baseline} | ${fmt(r.baselineValue)} | ${q === null ? '—' : q.toFixed(2)} |`,
    );
  }
  const notes = rep.rows.filter((r) => r.note).map((r) => `- ${r.bench} / ${r.metric} vs ${r.baseline}: ${r.note}`);
  if (notes.length) lines.push('', 'Notes:', '', ...notes);
  if (rep.skipped.length) lines.push('', 'Skipped:', '', ...rep.skipped.map((s) => `- ${s.bench}: ${s.reason}`));
  if (rep.failures.length) lines.push('', 'Crashed:', '', ...rep.failures.map((f) => `- ${f.bench}: ${f.error.split('\n')[0]}`));
  lines.push('', `Time per benchmark (s): ${Object.entries(rep.seconds).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
  lines.push('', `Load average (1, 5, 15 min) at the start of each: ${Object.entries(rep.loads).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  return lines.join('\n') + '\n';
}

export function writeReport(rep: Report, mdPath: string, jsonPath: string): void {
  mkdirSync(dirname(mdPath), { recursive: true });
  writeFileSync(mdPath, markdown(rep));
  writeFileSync(jsonPath, JSON.stringify({ ...rep, rows: rep.rows.map((r) => ({ ...r, ratio: ratio(r) })) }, null, 2) + '\n');
}
