/**
 * Everything a generation draws from its seed, keyed so that grid image i never depends on which other
 * images are made: its initial noise, its guidance jitter, the fresh noise of stochastic steps and the
 * `--tile` offsets (see rng.ts for the streams).
 */
import { gaussian, SHARED_STREAM, uniform } from './rng.js';
import { cat, type FloatTensor } from './tensor.js';

/**
 * Initial noise of grid image `index`: its own stream (seed, index), mixed with a stream shared by the
 * grid. `--chaos 0` shares half the variance (the four images are related takes), `--chaos 100` none.
 * The mix keeps unit variance, and image i never depends on which other images are made.
 */
export function initialNoise(seed: number, index: number, chaos: number, size: number): FloatTensor {
  const own = gaussian(seed, index, 0, size);
  const shared = 0.5 * (1 - chaos / 100);
  if (shared > 0) {
    const common = gaussian(seed, SHARED_STREAM, 0, size);
    const a = Math.sqrt(1 - shared);
    const b = Math.sqrt(shared);
    for (let k = 0; k < size; k++) own[k] = a * own[k]! + b * common[k]!;
  }
  return { data: own, dims: [1, size] };
}

/** Per-image guidance: `--chaos` also jitters the scale by up to x/÷ 2^(chaos/100) per image. */
export function guidanceFor(seed: number, index: number, scale: number, chaos: number): number {
  if (chaos === 0) return scale;
  const [u] = uniform(seed, index, 0, 1);
  return scale * 2 ** ((chaos / 100) * (2 * u! - 1));
}

/** The fresh noise a stochastic sampler adds at step `index`, for the given grid images, flat. */
export function stepNoise(
  seed: number,
  images: readonly number[],
  index: number,
  rowSize: number,
): Float32Array {
  return cat(images.map((i) => ({ data: gaussian(seed, i, 1 + index, rowSize), dims: [1, rowSize] }))).data;
}

/** The `--tile` roll of step `index`: one offset for the whole grid, in latent cells. */
export function tileShift(seed: number, index: number, height: number, width: number): [number, number] {
  const [u, v] = uniform(seed, SHARED_STREAM, 1 + index, 2);
  return [Math.floor(u! * height), Math.floor(v! * width)];
}
