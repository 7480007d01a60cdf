// Configuration from the environment, validated once at start.
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  maxUploadBytes: number;
  engineConcurrency: number;
  queueLimit: number;
  /** Resumable uploads that may be open (created, not finished) at once. */
  maxOpenUploads: number;
  sessionTtlMs: number;
  /** Browser origins allowed besides the service's own: a list, or '*' for any. */
  corsOrigins: string[] | '*';
  apiToken: string | null;
  modelDir: string | null;
  modelMaxTokens: number;
  modelTemperature: number;
  /** Redis for sessions, event logs and the job queue (cluster mode); null: the embedded journal. */
  redisUrl: string | null;
  /** all: HTTP and analyses; api: HTTP only; worker: analyses, with only /health and /metrics over HTTP. */
  role: Role;
  /** How long a silent worker keeps a job before another one takes it over. */
  jobLeaseMs: number;
  /** Runs of one job (the first and its take-overs) before the session fails with `interrupted`. */
  maxAttempts: number;
}

export type Role = 'all' | 'api' | 'worker';
const ROLES: readonly Role[] = ['all', 'api', 'worker'];

export function parseRole(raw: string | undefined): Role {
  if (!raw) return 'all';
  if (!(ROLES as readonly string[]).includes(raw)) throw new Error(`ROLE: expected all, api or worker, got "${raw}"`);
  return raw as Role;
}

/** REDIS_URL: redis:// or rediss:// with a host (database in the path). */
export function parseRedisUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`REDIS_URL: expected a URL like redis://127.0.0.1:6379/0, got "${raw}"`);
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw new Error(`REDIS_URL: expected a URL like redis://127.0.0.1:6379/0, got "${url.protocol}//${url.host}${url.pathname}"`);
  }
  if (url.pathname.length > 1 && !/^\/\d+$/.test(url.pathname)) throw new Error(`REDIS_URL: the path must be a database number, got "${url.pathname}"`);
  return raw;
}

function duration(env: NodeJS.ProcessEnv, key: string, defMs: number, minMs: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return defMs;
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch {
    throw new Error(`${key}: expected a duration like 15s, got "${raw}"`);
  }
  if (ms < minMs) throw new Error(`${key}: must be at least ${minMs} ms, got "${raw}"`);
  return ms;
}

function int(env: NodeJS.ProcessEnv, key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${key}: expected an integer ${min}-${max}, got "${raw}"`);
  return n;
}

/** CORS_ORIGINS: unset (only the service's own origin), '*', or a comma-separated list of origins. */
export function parseOrigins(raw: string | undefined): string[] | '*' {
  if (!raw || !raw.trim()) return [];
  if (raw.trim() === '*') return '*';
  return raw.split(',').map((o) => {
    const t = o.trim();
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      throw new Error(`CORS_ORIGINS: expected origins like https://app.example.com, got "${t}"`);
    }
    if (url.origin !== t.replace(/\/$/, '')) throw new Error(`CORS_ORIGINS: expected an origin (scheme, host and port only), got "${t}"`);
    return url.origin;
  });
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
    port: int(env, 'PORT', 5001, 0, 65535),
    host: env.HOST || '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR || './data'),
    maxUploadBytes: env.MAX_UPLOAD_BYTES ? parseBytes(env.MAX_UPLOAD_BYTES) : 2 * 1024 ** 3,
    engineConcurrency: int(env, 'ENGINE_CONCURRENCY', 2, 1),
    queueLimit: int(env, 'QUEUE_LIMIT', 32, 0),
    maxOpenUploads: int(env, 'MAX_OPEN_UPLOADS', 256, 1),
    sessionTtlMs: env.SESSION_TTL ? parseDuration(env.SESSION_TTL) : 24 * 3_600_000,
    apiToken: env.API_TOKEN || null,
    corsOrigins: parseOrigins(env.CORS_ORIGINS),
    modelDir: env.MODEL_DIR || null,
    modelMaxTokens: int(env, 'MODEL_MAX_TOKENS', 96, 1),
    modelTemperature: env.MODEL_TEMPERATURE ? Number(env.MODEL_TEMPERATURE) : 0,
    ...clusterConfig(env),
  };
}

function clusterConfig(env: NodeJS.ProcessEnv): Pick<Config, 'redisUrl' | 'role' | 'jobLeaseMs' | 'maxAttempts'> {
  const redisUrl = parseRedisUrl(env.REDIS_URL);
  const role = parseRole(env.ROLE);
  // api and worker nodes share their sessions and queue through Redis: alone they could do nothing
  if (role !== 'all' && !redisUrl) throw new Error(`ROLE=${role} needs REDIS_URL (only ROLE=all runs without Redis)`);
  return { redisUrl, role, jobLeaseMs: duration(env, 'JOB_LEASE', 15_000, 1000), maxAttempts: int(env, 'MAX_ATTEMPTS', 3, 1, 100) };
}
