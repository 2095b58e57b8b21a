import { canvasLayout, MAX_CANVAS_AREA, paintMask } from '../../src/jobs/canvas.js';

const square = { width: 512, height: 512 };

test('Zoom Out 2x: the source at native size in the middle of a canvas twice its side', () => {
  expect(canvasLayout({ mode: 'outpaint', zoom: 2 }, square, 32, 8)).toEqual({
    width: 64,
    height: 64,
    place: { x: 16, y: 16, width: 32, height: 32 },
  });
  const mid = canvasLayout({ mode: 'outpaint', zoom: 1.5 }, square, 32, 8);
  expect([mid.width, mid.height]).toEqual([48, 48]);
});

test('pans grow the canvas by half a side in their direction, the source on the other side', () => {
  expect(canvasLayout({ mode: 'outpaint', zoom: 1, pan: 'right' }, square, 32, 8)).toEqual({
    width: 48,
    height: 32,
    place: { x: 0, y: 0, width: 32, height: 32 },
  });
  expect(canvasLayout({ mode: 'outpaint', zoom: 1, pan: 'left' }, square, 32, 8).place.x).toBe(16);
  expect(canvasLayout({ mode: 'outpaint', zoom: 1, pan: 'up' }, square, 32, 8)).toMatchObject({
    width: 32,
    height: 48,
    place: { y: 16 },
  });
});

test('Make Square extends the short side; Custom Zoom takes a new aspect around the source', () => {
  const wide = { width: 768, height: 512 };
  const made = canvasLayout({ mode: 'outpaint', zoom: 1, square: true }, wide, 32, 8);
  expect(made.width).toBe(made.height);
  expect(made.place.width).toBeGreaterThan(made.place.height);
  const custom = canvasLayout({ mode: 'outpaint', zoom: 2, aspect: { width: 2, height: 1 } }, square, 32, 8);
  expect(custom.width / custom.height).toBeCloseTo(2, 0);
  expect(custom.height).toBeGreaterThanOrEqual(custom.place.height);
});

test('no canvas passes the largest area: the whole layout shrinks, source included', () => {
  const layout = canvasLayout({ mode: 'outpaint', zoom: 2, aspect: { width: 4, height: 1 } }, square, 32, 8);
  expect(layout.width * layout.height).toBeLessThanOrEqual(MAX_CANVAS_AREA * 32 * 32);
  expect(layout.place.width).toBeLessThanOrEqual(32);
});

test('masks: outside the source for an outpaint, the chosen cells for a region', () => {
  const spec = { mode: 'outpaint' as const, zoom: 2 };
  const layout = canvasLayout(spec, square, 32, 8);
  const mask = paintMask(spec, layout);
  expect(mask[0]).toBe(1);
  expect(mask[32 * 64 + 32]).toBe(0);
  expect(mask.reduce((a, b) => a + b, 0)).toBe(64 * 64 - 32 * 32);
  const region = { mode: 'region' as const, cells: [4] };
  const regionMask = paintMask(region, canvasLayout(region, square, 32, 8));
  expect(regionMask[16 * 32 + 16]).toBe(1);
  expect(regionMask[0]).toBe(0);
});
