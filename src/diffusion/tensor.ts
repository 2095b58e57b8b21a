/**
 * A float tensor as plain data (`Float32Array` + dims, row-major) and small pure helpers on it. The pipeline
 * keeps every latent, embedding and prediction in this form; conversion to onnxruntime tensors happens in
 * backend.ts only.
 */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function tensor(data: Float32Array, dims: readonly number[]): FloatTensor {
  if (data.length !== numel(dims)) {
    throw new RangeError(
      `tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${numel(dims)}`,
    );
  }
  return { data, dims: [...dims] };
}

/** Concatenates along the first (batch) axis; every part must share the trailing dims. */
export function cat(parts: readonly FloatTensor[]): FloatTensor {
  const first = parts[0];
  if (!first) throw new RangeError('cat needs at least one tensor');
  const tail = first.dims.slice(1);
  let batch = 0;
  for (const p of parts) {
    if (p.dims.length !== first.dims.length || p.dims.slice(1).some((d, i) => d !== tail[i])) {
      throw new RangeError(`cat: dims [${p.dims.join(', ')}] do not match [${first.dims.join(', ')}]`);
    }
    batch += p.dims[0] ?? 0;
  }
  const out = new Float32Array(batch * numel(tail));
  let offset = 0;
  for (const p of parts) {
    out.set(p.data, offset);
    offset += p.data.length;
  }
  return { data: out, dims: [batch, ...tail] };
}

/** Rows `start` (inclusive) to `end` (exclusive) of the batch axis, as a copy. */
export function sliceBatch(t: FloatTensor, start: number, end: number): FloatTensor {
  const row = numel(t.dims.slice(1));
  return { data: t.data.slice(start * row, end * row), dims: [end - start, ...t.dims.slice(1)] };
}

/** Cosine similarity of two vectors; 0 when either is all zeros. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : 0;
}

/** `times` copies of a tensor stacked on the batch axis (an embedding shared by every grid image). */
export function repeatBatch(t: FloatTensor, times: number): FloatTensor {
  return cat(Array.from({ length: times }, () => t));
}

/** The float that a float16 bit pattern holds. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float -> float16 bits, round to nearest even (as numpy's astype(float16) does). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && result & 1)) result += 1;
    return sign | result;
  }
  const rest = mantissa & 0x1fff;
  mantissa >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && mantissa & 1)) {
    mantissa += 1;
    if (mantissa === 0x400) {
      mantissa = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mantissa;
}

export function toHalfArray(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]!);
  return out;
}

export function fromHalfArray(data: Uint16Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = halfToFloat(data[i]!);
  return out;
}
