// Type declarations for the subset of the @frost-beta/mlx core API this engine uses. The package's
// own index.d.ts re-exports its TypeScript *sources* (lib/nn/*.ts), which do not compile under
// this project's strict settings, so the module is loaded with require() and typed here.
/* eslint-disable @typescript-eslint/no-explicit-any */

export interface MlxDtype {
  readonly size: number;
}

export interface MlxSlice {
  start: number | null;
  stop: number | null;
  step: number | null;
}

export type Index = null | MlxSlice | '...' | MlxArray | number;
export type Operand = MlxArray | number | boolean;

export interface MlxArray {
  readonly shape: number[];
  readonly dtype: MlxDtype;
  readonly ndim: number;
  readonly size: number;
  readonly T: MlxArray;
  astype(dtype: MlxDtype): MlxArray;
  reshape(...shape: (number | number[])[]): MlxArray;
  transpose(...axes: (number | number[])[]): MlxArray;
  index(...index: Index[]): MlxArray;
  indexPut_(index: Index | Index[], value: Operand): MlxArray;
  item(): number | boolean;
  tolist(): unknown;
  max(axis?: number | number[], keepdims?: boolean): MlxArray;
  sum(axis?: number | number[], keepdims?: boolean): MlxArray;
}

export interface MlxCore {
  array: {
    new (value: unknown, dtype?: MlxDtype): MlxArray;
    (value: unknown, dtype?: MlxDtype): MlxArray;
  };
  Dtype: new () => MlxDtype;
  float32: MlxDtype; float16: MlxDtype; bfloat16: MlxDtype;
  int32: MlxDtype; int64: MlxDtype; int16: MlxDtype; int8: MlxDtype;
  uint32: MlxDtype; uint64: MlxDtype; uint16: MlxDtype; uint8: MlxDtype; bool: MlxDtype;
  Slice(start?: number | null, stop?: number | null, step?: number | null): MlxSlice;

  add(a: Operand, b: Operand): MlxArray;
  subtract(a: Operand, b: Operand): MlxArray;
  multiply(a: Operand, b: Operand): MlxArray;
  divide(a: Operand, b: Operand): MlxArray;
  matmul(a: MlxArray, b: MlxArray): MlxArray;
  addmm(c: MlxArray, a: MlxArray, b: MlxArray, alpha?: number, beta?: number): MlxArray;
  maximum(a: Operand, b: Operand): MlxArray;
  greater(a: Operand, b: Operand): MlxArray;
  where(cond: MlxArray, x: Operand, y: Operand): MlxArray;
  abs(a: MlxArray): MlxArray;
  square(a: MlxArray): MlxArray;
  compile<T extends unknown[], U>(fn: (...args: T) => U, shapeless?: boolean): (...args: T) => U;
  exp(a: MlxArray): MlxArray;
  erf(a: MlxArray): MlxArray;
  tanh(a: MlxArray): MlxArray;
  sigmoid(a: MlxArray): MlxArray;
  floorDivide(a: Operand, b: Operand): MlxArray;
  remainder(a: Operand, b: Operand): MlxArray;
  argmax(a: MlxArray, axis?: number, keepdims?: boolean): MlxArray;
  take(a: MlxArray, indices: MlxArray, axis?: number): MlxArray;
  concatenate(arrays: MlxArray[], axis?: number): MlxArray;
  stack(arrays: MlxArray[], axis?: number): MlxArray;
  expandDims(a: MlxArray, axis: number | number[]): MlxArray;
  arange(start: number, stop?: number, step?: number, dtype?: MlxDtype): MlxArray;
  zeros(shape: number[], dtype?: MlxDtype): MlxArray;
  ones(shape: number[], dtype?: MlxDtype): MlxArray;
  softmax(a: MlxArray, axis?: number | number[], precise?: boolean): MlxArray;
  quantize(w: MlxArray, groupSize: number, bits: number): [MlxArray, MlxArray, MlxArray];
  dequantize(w: MlxArray, scales: MlxArray, biases: MlxArray, groupSize: number, bits: number): MlxArray;

  eval(...arrays: unknown[]): void;
  asyncEval(...arrays: unknown[]): void;
  load(path: string): MlxArray | Record<string, MlxArray>;
  save(path: string, a: MlxArray): void;
  saveSafetensors(path: string, arrays: Record<string, MlxArray>, metadata?: Record<string, string>): void;

  fast: {
    rmsNorm(x: MlxArray, weight: MlxArray, eps: number): MlxArray;
    layerNorm(x: MlxArray, weight: MlxArray | null, bias: MlxArray | null, eps: number): MlxArray;
    rope(x: MlxArray, dims: number, traditional: boolean, base: number, scale: number, offset: number): MlxArray;
    scaledDotProductAttention(q: MlxArray, k: MlxArray, v: MlxArray, scale: number, mask?: MlxArray): MlxArray;
  };
  random: {
    seed(seed: number): void;
    normal(shape: number[], dtype?: MlxDtype, loc?: number, scale?: number): MlxArray;
    uniform(low: Operand, high: Operand, shape: number[], dtype?: MlxDtype): MlxArray;
    categorical(logits: MlxArray, axis?: number): MlxArray;
  };
  [key: string]: any;
}
