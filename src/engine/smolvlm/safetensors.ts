// safetensors format: 8-byte little-endian header length, a JSON header describing each tensor
// ({dtype, shape, data_offsets}) and an optional "__metadata__" map, then the raw data.
// Tensors are loaded through MLX's native loader (fast, handles BF16/F16/U32); this module reads
// headers (to list and validate files) and writes files (for tests and tools).
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'U32' | 'I64' | 'U8' | 'I8' | 'U16' | 'I16' | 'F64' | 'BOOL';

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Record<string, TensorInfo>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = {
  F32: 4, F16: 2, BF16: 2, I32: 4, U32: 4, I64: 8, U8: 1, I8: 1, U16: 2, I16: 2, F64: 8, BOOL: 1,
};

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    if (readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new Error(`${path}: not a safetensors file (too short)`);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len <= 0 || len > 100 * 1024 * 1024) throw new Error(`${path}: implausible safetensors header length ${len}`);
    const hdr = Buffer.alloc(len);
    readSync(fd, hdr, 0, len, 8);
    const json = JSON.parse(hdr.toString('utf8')) as Record<string, unknown>;
    const tensors: Record<string, TensorInfo> = {};
    let metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(json)) {
      if (k === '__metadata__') metadata = (v ?? {}) as Record<string, string>;
      else tensors[k] = v as TensorInfo;
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes, or a typed array whose bytes are written as they are. */
  data: ArrayBufferView;
}

/** Serialises tensors to the safetensors format (keys sorted, 8-byte aligned header). */
export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const names = Object.keys(tensors).sort();
  let offset = 0;
  const chunks: Buffer[] = [];
  for (const name of names) {
    const t = tensors[name];
    const n = t.shape.reduce((a, b) => a * b, 1);
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (bytes.length !== n * BYTES[t.dtype]) {
      throw new Error(`safetensors: ${name}: ${bytes.length} bytes for ${t.dtype} ${JSON.stringify(t.shape)}`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), ...chunks]);
}

export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  writeFileSync(path, encodeSafetensors(tensors, metadata));
}

/** float32 -> bfloat16 bits, round-to-nearest-even (as PyTorch does). */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) { out[i] = (x >>> 16) | 0x40; continue; }
    out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** bfloat16 bits -> float32. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return out;
}
