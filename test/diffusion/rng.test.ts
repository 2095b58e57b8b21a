import { gaussian, philox4x32, SHARED_STREAM, uniform } from '../../src/diffusion/rng.js';

const hex = (words: readonly number[]) => words.map((w) => w.toString(16).padStart(8, '0'));

describe('Philox4x32-10', () => {
  // Known-answer vectors from Random123 (kat_vectors: philox4x32 10 rounds).
  test.each([
    [
      [0, 0, 0, 0],
      [0, 0],
      ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ['d16cfe09', '94fdcceb', '5001e420', '24126ea1'],
    ],
  ] as const)('counter %j key %j', (counter, key, expected) => {
    expect(hex(philox4x32(counter, key))).toEqual(expected);
  });
});

describe('gaussian streams', () => {
  test('standard normal statistics', () => {
    const x = gaussian(123, 0, 0, 200_000);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    const tail = x.filter((v) => Math.abs(v) > 1.96).length / x.length;
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.005);
  });

  test('same (seed, stream, purpose) gives the same numbers; a shorter draw is a prefix', () => {
    expect(gaussian(7, 2, 3, 257)).toEqual(gaussian(7, 2, 3, 257));
    expect(gaussian(7, 2, 3, 10)).toEqual(gaussian(7, 2, 3, 257).subarray(0, 10));
  });

  test('streams, purposes and seeds are independent of each other', () => {
    const base = gaussian(7, 0, 0, 64);
    for (const other of [
      gaussian(8, 0, 0, 64),
      gaussian(7, 1, 0, 64),
      gaussian(7, 0, 1, 64),
      gaussian(7, SHARED_STREAM, 0, 64),
    ]) {
      const dot = base.reduce((s, v, i) => s + v * other[i]!, 0) / 64;
      expect(other).not.toEqual(base);
      expect(Math.abs(dot)).toBeLessThan(0.5);
    }
  });

  test('seeds above 2^32 are not folded onto small ones', () => {
    expect(gaussian(2 ** 32 + 5, 0, 0, 8)).not.toEqual(gaussian(5, 0, 0, 8));
  });

  test('uniform numbers lie in [0, 1)', () => {
    const u = uniform(1, 2, 3, 1000);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
