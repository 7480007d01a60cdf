// Validation of per-request analysis parameters (the upload form's `params` and the legacy
// endpoints' fields). Messages name the offending key; callers turn ParamsError into a 400.
import type { AnalysisType, HighlightsParams, WorkoutParams } from './types.js';

export class ParamsError extends Error {
  constructor(
    readonly key: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ParamsError';
  }
}

export const ANALYSIS_TYPES: readonly AnalysisType[] = ['highlights', 'workout'];

export function parseAnalysisType(value: unknown): AnalysisType {
  if (value === undefined || value === null || value === '') return 'highlights';
  if (value === 'highlights' || value === 'workout') return value;
  throw new ParamsError('analysis_type', `analysis_type must be "highlights" or "workout", got ${JSON.stringify(value)}`);
}

/** Accepts a JSON string or an object; undefined/empty means defaults. */
export function parseParams(type: 'highlights', raw: unknown): HighlightsParams;
export function parseParams(type: 'workout', raw: unknown): WorkoutParams;
export function parseParams(type: AnalysisType, raw: unknown): HighlightsParams | WorkoutParams;
export function parseParams(type: AnalysisType, raw: unknown): HighlightsParams | WorkoutParams {
  const obj = toObject(raw);
  return type === 'highlights' ? highlights(obj) : workout(obj);
}

function toObject(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ParamsError('params', 'params is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ParamsError('params', 'params must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function rejectUnknown(obj: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ParamsError(key, `unknown parameter "${key}" (allowed: ${allowed.join(', ')})`);
  }
}

/** Numbers may arrive as strings from form fields. */
function num(obj: Record<string, unknown>, key: string, min: number, max: number, integer: boolean): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new ParamsError(key, `${key} must be a number`);
  if (integer && !Number.isInteger(n)) throw new ParamsError(key, `${key} must be an integer`);
  if (n < min || n > max) throw new ParamsError(key, `${key} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function str(obj: Record<string, unknown>, key: string, maxLength: number): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ParamsError(key, `${key} must be a string`);
  if (v.length > maxLength) throw new ParamsError(key, `${key} must be at most ${maxLength} characters`);
  return v;
}

function highlights(obj: Record<string, unknown>): HighlightsParams {
  rejectUnknown(obj, ['min_significance', 'max_highlights', 'segment_duration']);
  const out: HighlightsParams = {
    min_significance: num(obj, 'min_significance', 1, 10, true) ?? 6,
    max_highlights: num(obj, 'max_highlights', 1, 100, true) ?? 10,
  };
  const seg = num(obj, 'segment_duration', 0.5, 600, false);
  if (seg !== undefined) out.segment_duration = seg;
  return out;
}

function workout(obj: Record<string, unknown>): WorkoutParams {
  rejectUnknown(obj, ['segment_duration', 'system_prompt', 'user_prompt']);
  const out: WorkoutParams = { segment_duration: num(obj, 'segment_duration', 1, 600, false) ?? 15 };
  const sys = str(obj, 'system_prompt', 4000);
  const user = str(obj, 'user_prompt', 4000);
  if (sys !== undefined) out.system_prompt = sys;
  if (user !== undefined) out.user_prompt = user;
  return out;
}
