import fc from 'fast-check';
import { combineGuidance } from '../../src/diffusion/guidance.js';

const ROW = 6;
const IMAGES = 2;

/** Predictions laid out condition-major: [uncond x images, cond1 x images, ...]. */
function predictions(rows: number[][]): Float32Array {
  return Float32Array.from(rows.flat());
}

const row = fc.array(fc.float({ min: -4, max: 4, noNaN: true }), {
  minLength: ROW * IMAGES,
  maxLength: ROW * IMAGES,
});
const weight = fc.float({ min: -2, max: 2, noNaN: true });
const scale = fc.float({ min: 0, max: 15, noNaN: true });

function close(a: Float32Array, b: Float32Array, tolerance = 1e-4) {
  expect(a.length).toBe(b.length);
  for (const [i, v] of a.entries()) {
    expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(tolerance * (1 + Math.abs(v)));
  }
}

test('a condition with weight 0 changes nothing', () => {
  fc.assert(
    fc.property(row, row, row, weight, scale, (u, c1, c2, w, g) => {
      const without = combineGuidance(predictions([u, c1]), { images: IMAGES, rowSize: ROW }, [w], [g, g]);
      const withZero = combineGuidance(
        predictions([u, c1, c2]),
        { images: IMAGES, rowSize: ROW },
        [w, 0],
        [g, g],
      );
      expect(withZero).toEqual(without);
    }),
  );
});

test('swapping the order of conditions changes nothing', () => {
  fc.assert(
    fc.property(row, row, row, weight, weight, scale, (u, c1, c2, w1, w2, g) => {
      const ab = combineGuidance(
        predictions([u, c1, c2]),
        { images: IMAGES, rowSize: ROW },
        [w1, w2],
        [g, g],
      );
      const ba = combineGuidance(
        predictions([u, c2, c1]),
        { images: IMAGES, rowSize: ROW },
        [w2, w1],
        [g, g],
      );
      close(ab, ba);
    }),
  );
});

test('one condition of weight 1 is classifier-free guidance; scale 1 returns the conditional prediction', () => {
  fc.assert(
    fc.property(row, row, scale, (u, c, g) => {
      const out = combineGuidance(predictions([u, c]), { images: IMAGES, rowSize: ROW }, [1], [g, g]);
      close(
        out,
        Float32Array.from(u, (v, i) => v + g * (c[i]! - v)),
      );
      close(
        combineGuidance(predictions([u, c]), { images: IMAGES, rowSize: ROW }, [1], [1, 1]),
        Float32Array.from(c),
      );
    }),
  );
});

test('a negative weight pushes away from its prompt', () => {
  const u = new Array(ROW * IMAGES).fill(0);
  const c = new Array(ROW * IMAGES).fill(1);
  const out = combineGuidance(predictions([u, c]), { images: IMAGES, rowSize: ROW }, [-0.5], [7, 7]);
  for (const v of out) expect(v).toBeCloseTo(-3.5, 6);
});

test('each image gets its own guidance scale', () => {
  const u = new Array(ROW * IMAGES).fill(0);
  const c = new Array(ROW * IMAGES).fill(1);
  const out = combineGuidance(predictions([u, c]), { images: IMAGES, rowSize: ROW }, [1], [2, 5]);
  expect([...out.subarray(0, ROW)]).toEqual(new Array(ROW).fill(2));
  expect([...out.subarray(ROW)]).toEqual(new Array(ROW).fill(5));
});

test('a layout mismatch is an error', () => {
  expect(() => combineGuidance(new Float32Array(10), { images: 2, rowSize: 6 }, [1], [1, 1])).toThrow(
    RangeError,
  );
});
