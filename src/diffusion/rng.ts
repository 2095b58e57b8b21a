/**
 * Seeded Gaussian noise from Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11; the generator behind cuRAND's and JAX's counter-based streams) with the Box-Muller transform.
 *
 * Counter-based means any block of numbers is a pure function of (key, counter): the noise of grid image i
 * is keyed by (seed, i), so image i can be regenerated alone (U/V buttons) and equals image i of the grid.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(a: number, b: number): [number, number] {
  // 32x32 -> 64 bit product split into 16-bit halves, exact in doubles.
  const lo = Math.imul(a, b) >>> 0;
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const bHi = b >>> 16;
  const bLo = b & 0xffff;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((((aLo * bLo) >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) / 65536) >>> 0;
  const hi = (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
  return [hi, lo];
}

/** One Philox4x32-10 block: four 32-bit outputs for a 128-bit counter and a 64-bit key. */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
) {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(M0, c0 >>> 0);
    const [hi1, lo1] = mulhilo(M1, c2 >>> 0);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0 >>> 0, c1 >>> 0, c2 >>> 0, c3 >>> 0] as const;
}

/** Stream ids beyond the grid indices, for noise that is not tied to one image. */
export const SHARED_STREAM = 0xffff;

/**
 * `count` standard normal values from stream (seed, stream), block `purpose` (0 for the initial latent,
 * 1 + step for a sampler's per-step noise, ...). Same arguments, same numbers, on any machine with the same
 * libm.
 */
export function gaussian(seed: number, stream: number, purpose: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const key: [number, number] = [seed >>> 0, (stream >>> 0) ^ (Math.floor(seed / 2 ** 32) >>> 0)];
  for (let block = 0; block * 4 < count; block++) {
    const [a, b, c, d] = philox4x32([block, purpose >>> 0, 0, 0], key);
    const pairs: [number, number][] = [
      [a, b],
      [c, d],
    ];
    for (let p = 0; p < 2; p++) {
      const [x, y] = pairs[p]!;
      // (x + 1) / 2^32 is in (0, 1], so the logarithm is finite.
      const u1 = (x + 1) / 4294967296;
      const u2 = y / 4294967296;
      const radius = Math.sqrt(-2 * Math.log(u1));
      const index = block * 4 + p * 2;
      if (index < count) out[index] = radius * Math.cos(2 * Math.PI * u2);
      if (index + 1 < count) out[index + 1] = radius * Math.sin(2 * Math.PI * u2);
    }
  }
  return out;
}

/** Uniform numbers in [0, 1) from the same generator, for small per-image choices (jitter, offsets). */
export function uniform(seed: number, stream: number, purpose: number, count: number): Float64Array {
  const out = new Float64Array(count);
  const key: [number, number] = [seed >>> 0, (stream >>> 0) ^ (Math.floor(seed / 2 ** 32) >>> 0)];
  for (let block = 0; block * 4 < count; block++) {
    const words = philox4x32([block, purpose >>> 0, 1, 0], key);
    for (let j = 0; j < 4 && block * 4 + j < count; j++) out[block * 4 + j] = words[j]! / 4294967296;
  }
  return out;
}
