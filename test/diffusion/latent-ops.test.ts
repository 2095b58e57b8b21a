import fc from 'fast-check';
import {
  cropBorder,
  padCircular,
  rgbToTensor,
  rollLatents,
  tensorToRgbImages,
} from '../../src/diffusion/latent-ops.js';

const latents = (h: number, w: number) => ({
  data: Float32Array.from({ length: 2 * 4 * h * w }, (_, i) => i),
  dims: [2, 4, h, w],
});

test('rolling and rolling back is the identity', () => {
  fc.assert(
    fc.property(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), (dy, dx) => {
      const x = latents(3, 5);
      expect(rollLatents(rollLatents(x, dy, dx), -dy, -dx).data).toEqual(x.data);
    }),
  );
});

test('a roll moves values with wrap-around', () => {
  const x = { data: Float32Array.of(1, 2, 3, 4, 5, 6), dims: [1, 1, 2, 3] };
  expect([...rollLatents(x, 0, 1).data]).toEqual([3, 1, 2, 6, 4, 5]);
  expect([...rollLatents(x, 1, 0).data]).toEqual([4, 5, 6, 1, 2, 3]);
});

test('circular padding takes the opposite edges and cropping undoes it', () => {
  const x = { data: Float32Array.of(1, 2, 3, 4), dims: [1, 1, 2, 2] };
  const padded = padCircular(x, 1);
  expect(padded.dims).toEqual([1, 1, 4, 4]);
  expect([...padded.data]).toEqual([4, 3, 4, 3, 2, 1, 2, 1, 4, 3, 4, 3, 2, 1, 2, 1]);
  expect(cropBorder(padded, 1).data).toEqual(x.data);
});

test('RGB bytes <-> [-1, 1] tensors round-trip', () => {
  const bytes = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const t = rgbToTensor(bytes, 2, 3);
  expect(t.dims).toEqual([1, 3, 2, 3]);
  expect(tensorToRgbImages(t)[0]).toEqual(bytes);
  expect(Math.max(...rgbToTensor(bytes, 2, 3, true).data)).toBeLessThanOrEqual(1);
});
