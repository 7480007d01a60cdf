// Minimal NumPy .npy (v1/v2) encoder and decoder for little-endian numeric arrays.
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array | Uint16Array | Int16Array | Int8Array;

export interface NpyArray {
  data: TypedArray;
  shape: number[];
}

const DESCR: Array<[string, new (n: number) => TypedArray, number]> = [
  ['<f4', Float32Array, 4], ['<f8', Float64Array, 8], ['<i4', Int32Array, 4], ['|u1', Uint8Array, 1],
  ['<u4', Uint32Array, 4], ['<u2', Uint16Array, 2], ['<i2', Int16Array, 2], ['|i1', Int8Array, 1],
];

function descrOf(data: TypedArray): string {
  for (const [d, ctor] of DESCR) if (data.constructor === ctor) return d;
  throw new Error('npy: unsupported typed array');
}

export function encodeNpy(arr: NpyArray): Buffer {
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descrOf(arr.data)}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

export function decodeNpy(buf: Buffer | Uint8Array): NpyArray {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('npy: bad magic');
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = b.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeStr.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const entry = DESCR.find(([d]) => d === descr || (descr && d.slice(1) === descr.slice(1) && descr[0] === '='));
  if (!entry) throw new Error(`npy: unsupported dtype ${descr}`);
  const [, ctor, size] = entry;
  const n = shape.reduce((a, c) => a * c, 1);
  const off = hstart + hlen;
  const copy = new Uint8Array(n * size);
  copy.set(b.subarray(off, off + n * size));
  const data = new (ctor as unknown as { new (buf: ArrayBuffer, o: number, n: number): TypedArray })(copy.buffer, 0, n);
  return { data: fortran && shape.length > 1 ? fromFortran(data, shape, ctor) : data, shape };
}

/** Column-major data -> row-major. */
function fromFortran(src: TypedArray, shape: number[], ctor: new (n: number) => TypedArray): TypedArray {
  const n = src.length;
  const out = new ctor(n);
  const nd = shape.length;
  const fStride = new Array<number>(nd);
  let acc = 1;
  for (let d = 0; d < nd; d++) { fStride[d] = acc; acc *= shape[d]; }
  const idx = new Array<number>(nd).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < nd; d++) off += idx[d] * fStride[d];
    out[i] = src[off];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}
