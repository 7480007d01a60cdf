// The service's logger: pino, one JSON object per line on stdout (for log shippers), or
// pino-pretty's coloured lines when stdout is a terminal (a person watching `npm start`).
// Both write from this thread: no worker-thread transport to lose lines at exit.
import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

export function createLogger(level: LogLevel, opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
    // "level":"info" rather than pino's numbers, for readers other than pino's tools
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (pretty) return pino(options, PinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  // Lines are buffered (a write per line cost GET status 40% of its throughput) and flushed at
  // least every FLUSH_MS, so a quiet server's lines are never more than that late.
  const log = pino(options, destination({ dest: 1, sync: false, minLength: 4096 }));
  setInterval(() => log.flush(), FLUSH_MS).unref();
  return log;
}

const FLUSH_MS = 200;

/** Writes what is buffered (before process.exit). */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      log.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
