import fc from 'fast-check';
import {
  cat,
  floatToHalf,
  fromHalfArray,
  halfToFloat,
  repeatBatch,
  sliceBatch,
  tensor,
  toHalfArray,
} from '../../src/diffusion/tensor.js';

test.each([
  [1, 0x3c00],
  [-2, 0xc000],
  [65504, 0x7bff],
  [0.1, 0x2e66],
  [2 ** -24, 0x0001],
  [1e-9, 0x0000],
  [1e6, 0x7c00],
  [0.333251953125, 0x3555],
])('float16 of %d is %i', (value, bits) => {
  expect(floatToHalf(value)).toBe(bits);
  if (Math.abs(value) <= 65504 && value !== 1e-9 && value !== 0.1) expect(halfToFloat(bits)).toBe(value);
});

test('float16 round trip stays within half precision', () => {
  fc.assert(
    fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (v) => {
      const back = halfToFloat(floatToHalf(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
    }),
  );
  const data = Float32Array.of(0.5, -0.25, 3);
  expect(fromHalfArray(toHalfArray(data))).toEqual(data);
});

test('cat, sliceBatch and repeatBatch work on the batch axis', () => {
  const a = tensor(Float32Array.of(1, 2), [1, 2]);
  const b = tensor(Float32Array.of(3, 4, 5, 6), [2, 2]);
  const joined = cat([a, b]);
  expect(joined.dims).toEqual([3, 2]);
  expect([...joined.data]).toEqual([1, 2, 3, 4, 5, 6]);
  expect([...sliceBatch(joined, 1, 3).data]).toEqual([3, 4, 5, 6]);
  expect(repeatBatch(a, 3).dims).toEqual([3, 2]);
  expect(() => cat([a, tensor(Float32Array.of(1, 2, 3), [1, 3])])).toThrow(RangeError);
  expect(() => tensor(Float32Array.of(1), [2])).toThrow(RangeError);
});
