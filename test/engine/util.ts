// Shared helpers for the engine tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnalysisJob, AnalysisResult, EngineEvent } from '../../src/engine/index.js';

export function tempDir(prefix = 'engine-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Collects every event of a job and its outcome. */
export async function collect(job: AnalysisJob): Promise<{ events: EngineEvent[]; result?: AnalysisResult; error?: unknown; completed: boolean }> {
  const events: EngineEvent[] = [];
  let completed = false;
  job.events.subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
  try {
    const result = await job.result;
    return { events, result, completed };
  } catch (error) {
    return { events, error, completed };
  }
}

/** Rejects when a promise takes longer than ms. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}
