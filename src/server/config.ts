// Configuration from the environment, validated once at start. Every variable is checked here:
// a bad value throws a ConfigError whose message names the variable and what it expected
// (main.ts prints it as one line and exits with status 2).
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseHttpUrl } from '../streams/webhooks.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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
  /** Uploaded videos are deleted this long after their session ended (null: with the session). */
  videoTtlMs: number | null;
  /** Browser origins allowed besides the service's own: a list, or '*' for any. */
  corsOrigins: string[] | '*';
  apiToken: string | null;
  modelDir: string | null;
  modelMaxTokens: number;
  modelTemperature: number;
  logLevel: LogLevel;
  /** How long SIGTERM waits for running analyses before stopping them. */
  shutdownGraceMs: number;
  /** Base URL clients reach the service at (webhook results URLs); null: the upload's Host. */
  publicUrl: string | null;
  webhookUrl: string | null;
  webhookSecret: string | null;
  /** First retry delay of a failed webhook delivery; doubles per attempt. */
  webhookRetryBaseMs: number;
  /** How long a delivery is retried before it is given up. */
  webhookMaxAgeMs: number;
  /** Redis for sessions, event logs and the job queue (cluster mode); null: the embedded journal. */
  redisUrl: string | null;
  /** all: HTTP and analyses; api: HTTP only; worker: analyses, with only /health and /metrics over HTTP. */
  role: Role;
  /** How long a silent worker keeps a job before another one takes it over. */
  jobLeaseMs: number;
  /** Runs of one job (the first and its take-overs) before the session fails with `interrupted`. */
  maxAttempts: number;
  /** Prefix of every Redis key (REDIS_PREFIX, default `vas:`): deployments (or tests) sharing one Redis keep apart. */
  redisPrefix: string;
  /** This node's name in the cluster (NODE_ID; default host name and pid): its job consumer and its incoming folder. */
  nodeId: string;
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

/** A variable with a value the service cannot run with; the message names it. */
export class ConfigError extends Error {
  constructor(key: string, expected: string, raw: string) {
    super(`${key}: expected ${expected}, got ${JSON.stringify(raw)}`);
    this.name = 'ConfigError';
  }
}

type Env = NodeJS.ProcessEnv;
const value = (env: Env, key: string): string | undefined => {
  const raw = env[key];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
};

function int(env: Env, key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = value(env, key);
  if (raw === undefined) return def;
  const n = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(key, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer ${min}-${max}`, raw);
  }
  return n;
}

function number(env: Env, key: string, def: number, min: number, max: number): number {
  const raw = value(env, key);
  if (raw === undefined) return def;
  const n = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(key, `a number ${min}-${max}`, raw);
  return n;
}

function bytes(env: Env, key: string, def: number): number {
  const raw = value(env, key);
  if (raw === undefined) return def;
  const n = parseBytes(raw);
  if (n === null || n < 1) throw new ConfigError(key, 'a size like 500MB, 2GiB or a number of bytes', raw);
  return n;
}

function duration(env: Env, key: string, def: number, min?: number): number;
function duration(env: Env, key: string, def: null, min?: number): number | null;
function duration(env: Env, key: string, def: number | null, min = 1): number | null {
  const raw = value(env, key);
  if (raw === undefined) return def;
  const n = parseDuration(raw);
  if (n === null) throw new ConfigError(key, 'a duration like 30s, 15m, 24h, 7d or seconds', raw);
  if (n < min) throw new Error(`${key}: must be at least ${min} ms, got ${JSON.stringify(raw)}`);
  return n;
}

function httpUrl(env: Env, key: string): string | null {
  const raw = value(env, key);
  if (raw === undefined) return null;
  const url = parseHttpUrl(raw);
  if (!url) throw new ConfigError(key, 'an http:// or https:// URL', raw);
  return url;
}

/** HOST: an IPv4 or IPv6 address, or a host name (resolved by the listen call). */
function host(env: Env): string {
  const raw = value(env, 'HOST');
  if (raw === undefined) return '0.0.0.0';
  const h = raw.trim();
  if (net.isIP(h) || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(h)) return h;
  throw new ConfigError('HOST', 'an IP address or a host name', raw);
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

/** Sizes like 2147483648, 512MB, 2GiB; null when it is not one. */
export function parseBytes(raw: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!m) return null;
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit];
  if (pow === undefined) return null;
  const n = Math.floor(Number(m[1]) * 1024 ** pow);
  return Number.isSafeInteger(n) ? n : null;
}

/** Durations like 86400 (seconds), 30s, 15m, 24h, 7d, 250ms; null when it is not one. */
export function parseDuration(raw: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(raw);
  if (!m) return null;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase()]!;
  const n = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(n) ? n : null;
}

function logLevel(env: Env): LogLevel {
  const raw = value(env, 'LOG_LEVEL');
  if (raw === undefined) return 'info';
  const l = raw.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  throw new ConfigError('LOG_LEVEL', LOG_LEVELS.join(', '), raw);
}

function origins(env: Env): string[] | '*' {
  try {
    return parseOrigins(env.CORS_ORIGINS);
  } catch (err) {
    throw Object.assign(err as Error, { name: 'ConfigError' });
  }
}

export function loadConfig(env: Env = process.env): Config {
  const sessionTtlMs = duration(env, 'SESSION_TTL', 24 * 3_600_000);
  const modelDir = value(env, 'MODEL_DIR') ?? null;
  return {
    port: int(env, 'PORT', 5001, 0, 65535),
    host: host(env),
    dataDir: path.resolve(value(env, 'DATA_DIR') ?? './data'),
    maxUploadBytes: bytes(env, 'MAX_UPLOAD_BYTES', 2 * 1024 ** 3),
    engineConcurrency: int(env, 'ENGINE_CONCURRENCY', 2, 1, 1024),
    queueLimit: int(env, 'QUEUE_LIMIT', 32, 0),
    maxOpenUploads: int(env, 'MAX_OPEN_UPLOADS', 256, 1),
    sessionTtlMs,
    videoTtlMs: duration(env, 'VIDEO_TTL', null),
    apiToken: value(env, 'API_TOKEN') ?? null,
    corsOrigins: origins(env),
    modelDir,
    modelMaxTokens: int(env, 'MODEL_MAX_TOKENS', 96, 1, 4096),
    modelTemperature: number(env, 'MODEL_TEMPERATURE', 0, 0, 2),
    logLevel: logLevel(env),
    shutdownGraceMs: duration(env, 'SHUTDOWN_GRACE', 30_000, 0),
    publicUrl: httpUrl(env, 'PUBLIC_URL'),
    webhookUrl: httpUrl(env, 'WEBHOOK_URL'),
    webhookSecret: value(env, 'WEBHOOK_SECRET') ?? null,
    webhookRetryBaseMs: duration(env, 'WEBHOOK_RETRY_BASE', 10_000),
    webhookMaxAgeMs: duration(env, 'WEBHOOK_MAX_AGE', 24 * 3_600_000),
    ...clusterConfig(env),
  };
}

function clusterConfig(env: NodeJS.ProcessEnv): Pick<Config, 'redisUrl' | 'role' | 'jobLeaseMs' | 'maxAttempts' | 'redisPrefix' | 'nodeId'> {
  const redisUrl = parseRedisUrl(env.REDIS_URL);
  const role = parseRole(env.ROLE);
  // api and worker nodes share their sessions and queue through Redis: alone they could do nothing
  if (role !== 'all' && !redisUrl) throw new Error(`ROLE=${role} needs REDIS_URL (only ROLE=all runs without Redis)`);
  const redisPrefix = value(env, 'REDIS_PREFIX') ?? 'vas:';
  if (!/^[\w:.-]{1,64}$/.test(redisPrefix)) throw new Error(`REDIS_PREFIX: expected up to 64 of A-Za-z0-9_:.-, got "${redisPrefix.slice(0, 80)}"`);
  const nodeId = value(env, 'NODE_ID') ?? `${os.hostname()}-${process.pid}`.replace(/[^\w.-]/g, '_').slice(0, 64);
  if (!/^[\w.-]{1,64}$/.test(nodeId)) throw new Error(`NODE_ID: expected up to 64 of A-Za-z0-9_.-, got "${nodeId.slice(0, 80)}"`);
  return {
    redisUrl,
    role,
    jobLeaseMs: duration(env, 'JOB_LEASE', 15_000, 1000),
    maxAttempts: int(env, 'MAX_ATTEMPTS', 3, 1, 100),
    redisPrefix,
    nodeId,
  };
}
