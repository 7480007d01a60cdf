// Validation of the `params` object of an analysis request (used by the server for 400s).
import type { AnalysisType, HighlightsParams, WorkoutParams } from './types.js';

export class ParamsError extends Error {
  constructor(
    /** The offending key ("params" when the params object itself is malformed). */
    readonly key: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ParamsError';
  }
}

export const ANALYSIS_TYPES: readonly AnalysisType[] = ['highlights', 'workout'];

/** The upload form's analysis_type; missing/empty means highlights. */
export function parseAnalysisType(value: unknown): AnalysisType {
  if (value === undefined || value === null || value === '') return 'highlights';
  if (value === 'highlights' || value === 'workout') return value;
  throw new ParamsError('analysis_type', `analysis_type must be "highlights" or "workout", got ${JSON.stringify(value)}`);
}

export const HIGHLIGHTS_DEFAULTS = { min_significance: 6, max_highlights: 10 } as const;
export const WORKOUT_DEFAULTS = { segment_duration: 15 } as const;
export const SEGMENT_DURATION_RANGE = { min: 1, max: 600 } as const;
const MAX_PROMPT_LENGTH = 20_000;

function toObject(input: unknown): Record<string, unknown> {
  if (input === undefined || input === null || input === '') return {};
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new ParamsError('params', 'params is not valid JSON (expected a JSON object)');
    }
    if (value === null) return {};
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw new ParamsError('params', 'params must be a JSON object');
  return value as Record<string, unknown>;
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], type: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new ParamsError(key, `unknown parameter "${key}" for ${type} analysis (allowed: ${allowed.join(', ')})`);
    }
  }
}

/** Numbers, or strings holding a plain decimal number (multipart form fields arrive as text). */
function toNumber(key: string, value: unknown): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
  else throw new ParamsError(key, `"${key}" must be a number`);
  if (!Number.isFinite(n)) throw new ParamsError(key, `"${key}" must be a finite number`);
  return n;
}

function intInRange(obj: Record<string, unknown>, key: string, min: number, max: number, fallback: number): number {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return fallback;
  const n = toNumber(key, value);
  if (!Number.isInteger(n)) throw new ParamsError(key, `"${key}" must be an integer between ${min} and ${max}`);
  if (n < min || n > max) throw new ParamsError(key, `"${key}" must be between ${min} and ${max} (got ${n})`);
  return n;
}

function segmentDuration(obj: Record<string, unknown>): number | undefined {
  const key = 'segment_duration';
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  const n = toNumber(key, value);
  const { min, max } = SEGMENT_DURATION_RANGE;
  if (n < min || n > max) throw new ParamsError(key, `"${key}" must be between ${min} and ${max} seconds (got ${n})`);
  return n;
}

function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ParamsError(key, `"${key}" must be a string`);
  if (value.length > MAX_PROMPT_LENGTH) throw new ParamsError(key, `"${key}" is too long (max ${MAX_PROMPT_LENGTH} characters)`);
  return value;
}

export function parseHighlightsParams(input: unknown): HighlightsParams {
  const obj = toObject(input);
  checkKeys(obj, ['min_significance', 'max_highlights', 'segment_duration'], 'highlights');
  const params: HighlightsParams = {
    min_significance: intInRange(obj, 'min_significance', 1, 10, HIGHLIGHTS_DEFAULTS.min_significance),
    max_highlights: intInRange(obj, 'max_highlights', 1, 100, HIGHLIGHTS_DEFAULTS.max_highlights),
  };
  const seg = segmentDuration(obj);
  if (seg !== undefined) params.segment_duration = seg;
  return params;
}

export function parseWorkoutParams(input: unknown): WorkoutParams {
  const obj = toObject(input);
  checkKeys(obj, ['segment_duration', 'system_prompt', 'user_prompt'], 'workout');
  const params: WorkoutParams = { segment_duration: segmentDuration(obj) ?? WORKOUT_DEFAULTS.segment_duration };
  const system = optionalString(obj, 'system_prompt');
  const user = optionalString(obj, 'user_prompt');
  if (system !== undefined) params.system_prompt = system;
  if (user !== undefined) params.user_prompt = user;
  return params;
}

export function parseParams(type: 'highlights', input: unknown): HighlightsParams;
export function parseParams(type: 'workout', input: unknown): WorkoutParams;
export function parseParams(type: AnalysisType, input: unknown): HighlightsParams | WorkoutParams;
export function parseParams(type: AnalysisType, input: unknown): HighlightsParams | WorkoutParams {
  if (type === 'highlights') return parseHighlightsParams(input);
  if (type === 'workout') return parseWorkoutParams(input);
  throw new ParamsError('analysis_type', `unknown analysis type "${String(type)}"`);
}
