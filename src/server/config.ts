// Configuration from the environment, validated once at start.
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  maxUploadBytes: number;
  engineConcurrency: number;
  queueLimit: number;
  sessionTtlMs: number;
  apiToken: string | null;
  modelDir: string | null;
  modelMaxTokens: number;
  modelTemperature: number;
}

function int(env: NodeJS.ProcessEnv, key: string, def: number, min: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${key} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

/** Sizes like 2147483648, 512MB, 2GiB. */
export function parseBytes(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!m) throw new Error(`not a size: "${raw}"`);
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit] ?? 0;
  return Math.floor(Number(m[1]) * 1024 ** pow);
}

/** Durations like 86400 (seconds), 30s, 15m, 24h, 7d. */
export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(raw);
  if (!m) throw new Error(`not a duration: "${raw}"`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env, 'PORT', 5001, 0),
    host: env.HOST || '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR || './data'),
    maxUploadBytes: env.MAX_UPLOAD_BYTES ? parseBytes(env.MAX_UPLOAD_BYTES) : 2 * 1024 ** 3,
    engineConcurrency: int(env, 'ENGINE_CONCURRENCY', 2, 1),
    queueLimit: int(env, 'QUEUE_LIMIT', 32, 0),
    sessionTtlMs: env.SESSION_TTL ? parseDuration(env.SESSION_TTL) : 24 * 3_600_000,
    apiToken: env.API_TOKEN || null,
    modelDir: env.MODEL_DIR || null,
    modelMaxTokens: int(env, 'MODEL_MAX_TOKENS', 96, 1),
    modelTemperature: env.MODEL_TEMPERATURE ? Number(env.MODEL_TEMPERATURE) : 0,
  };
}
