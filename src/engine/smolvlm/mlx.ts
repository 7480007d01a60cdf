// Single import point for the MLX bindings, plus the small helpers every module needs:
// moving typed arrays in and out of MLX quickly (the bindings only accept plain JS arrays, which
// is ~70x slower than going through an .npy file in memory-backed storage), a linear layer and
// the dtype helpers.
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { threadId } from 'node:worker_threads';
import type { MlxArray, MlxCore, MlxDtype } from './mlx-types.js';
import { encodeNpy, decodeNpy, type NpyArray } from './npy.js';

const require = createRequire(import.meta.url);
export const mx: MlxCore = (require('@frost-beta/mlx') as { core: MlxCore }).core;
export type MxArray = MlxArray;
export type Dtype = MlxDtype;

let scratchDir: string | null = null;
let counter = 0;

function scratch(): string {
  if (scratchDir) return scratchDir;
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  try {
    scratchDir = mkdtempSync(join(base, `smolvlm-${process.pid}-${threadId}-`));
  } catch {
    scratchDir = mkdtempSync(join(tmpdir(), `smolvlm-${process.pid}-${threadId}-`));
  }
  const dir = scratchDir;
  process.once('exit', () => {
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* ignore */ }
  });
  return dir;
}

function nextPath(): string {
  return join(scratch(), `t${counter++}.npy`);
}

/** Copies a typed array into a new evaluated MLX array of the given shape. */
export function fromTyped(
  data: Float32Array | Int32Array | Uint8Array | Uint32Array | Uint16Array,
  shape: number[],
): MxArray {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`fromTyped: shape ${JSON.stringify(shape)} does not hold ${data.length} values`);
  if (data.length < 4096) {
    // Small arrays: the plain-array path is cheaper than a file round trip.
    const dtype = data instanceof Float32Array ? mx.float32 : data instanceof Int32Array ? mx.int32
      : data instanceof Uint8Array ? mx.uint8 : data instanceof Uint32Array ? mx.uint32 : mx.uint16;
    return mx.array(Array.from(data as ArrayLike<number>), dtype).reshape(shape);
  }
  const path = nextPath();
  writeFileSync(path, encodeNpy({ data, shape }));
  try {
    const a = mx.load(path) as MxArray;
    mx.eval(a);
    return a;
  } finally {
    unlinkSync(path);
  }
}

/** Evaluates an MLX array and copies it out as a typed array (float32 for floating types). */
export function toTyped(a: MxArray): NpyArray {
  let src = a;
  const dt = a.dtype;
  if (dt === mx.bfloat16 || dt === mx.float16 || dt === mx.float32) src = a.astype(mx.float32);
  else if (dt === mx.int64 || dt === mx.uint64 || dt === mx.int16 || dt === mx.int8 || dt === mx.bool) src = a.astype(mx.int32);
  mx.eval(src);
  const path = nextPath();
  mx.save(path, src);
  try {
    return decodeNpy(readFileSync(path));
  } finally {
    unlinkSync(path);
  }
}

export function toFloat32(a: MxArray): Float32Array {
  const t = toTyped(a.dtype === mx.float32 ? a : a.astype(mx.float32));
  return t.data as Float32Array;
}

/** y = x W^T (+ b), W stored as [out, in] like PyTorch/HF. */
export function linear(x: MxArray, w: MxArray, b?: MxArray | null): MxArray {
  return b ? mx.addmm(b, x, w.T, 1, 1) : mx.matmul(x, w.T);
}

export function isFloatDtype(d: Dtype): boolean {
  return d === mx.float32 || d === mx.float16 || d === mx.bfloat16;
}

export function dtypeName(d: Dtype): string {
  return String(d).replace(/^mlx\.core\./, '');
}

/** Largest absolute difference between two float arrays (NaN if shapes differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // also propagates NaN
  }
  return m;
}

let gcFn: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/**
 * Frees the native memory of MLX arrays that are no longer referenced. The bindings release an
 * array's buffer only when its JS wrapper is finalized, V8 does not see that memory, and the
 * finalizers run on a later turn of the event loop, so a long synchronous computation would keep
 * every intermediate alive (gigabytes for a few 512 px images). This runs a full GC and yields
 * once so the finalizers run.
 */
export async function reclaim(): Promise<void> {
  collector()?.();
  await new Promise<void>((r) => setImmediate(r));
}

/**
 * mx.compile(fn) when compiling works here and gives the same numbers on a probe, else fn
 * (compiled elementwise chains run as one fused kernel instead of one pass per op).
 */
export function compiledOr<T extends MxArray[]>(fn: (...args: T) => MxArray, probe: () => T): (...args: T) => MxArray {
  let chosen: ((...args: T) => MxArray) | null = null;
  return (...args: T): MxArray => {
    if (!chosen) {
      chosen = fn;
      try {
        const c = mx.compile(fn) as (...a: T) => MxArray;
        const p = probe();
        const got = c(...p);
        const want = fn(...p);
        mx.eval(got, want);
        if ((mx.abs(mx.subtract(got, want)).max().item() as number) < 1e-5) chosen = c;
      } catch {
        chosen = fn;
      }
    }
    return chosen(...args);
  };
}

/**
 * Scaled dot-product attention, q [B, H, L, D] against k, v [B, Hkv, S, D] (grouped heads allowed),
 * optional additive mask broadcastable to [B, H, L, S]. Long queries are processed in row chunks
 * so each chunk's score matrix stays cache sized: on CPU this version of MLX computes attention
 * as matmul + softmax + matmul, and chunking makes it about 3x faster for 1024 patches.
 */
export function attention(q: MxArray, k: MxArray, v: MxArray, scale: number, mask?: MxArray): MxArray {
  const H = q.shape[1], L = q.shape[2], S = k.shape[2];
  const chunk = Math.max(32, Math.floor((1 << 20) / (H * S)));
  if (L <= chunk) return mx.fast.scaledDotProductAttention(q, k, v, scale, mask);
  const outs: MxArray[] = [];
  for (let i = 0; i < L; i += chunk) {
    const j = Math.min(L, i + chunk);
    const qi = q.index(mx.Slice(), mx.Slice(), mx.Slice(i, j));
    let mi = mask;
    if (mask && mask.ndim >= 2 && mask.shape[mask.ndim - 2] === L && L > 1) mi = mask.index('...', mx.Slice(i, j), mx.Slice());
    outs.push(mx.fast.scaledDotProductAttention(qi, k, v, scale, mi));
  }
  return mx.concatenate(outs, 2);
}
