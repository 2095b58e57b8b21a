import sharp from 'sharp';
import { composeGrid, displayScale, forDisplay } from '../../src/images/grid.js';
import { crc32, encodePng, readTextChunks } from '../../src/images/png.js';
import { rawImage } from '../../src/images/raw-image.js';
import { renderGrid } from '../../src/images/render.js';

const solid = (w: number, h: number, value: number) => rawImage(w, h, new Uint8Array(w * h * 3).fill(value));

test('CRC-32 matches the standard check value', () => {
  expect((crc32(new TextEncoder().encode('123456789')) ^ 0xffffffff) >>> 0).toBe(0xcbf43926);
});

test('the parameters chunk survives a round trip, UTF-8 included, and the PNG stays valid', async () => {
  const text = 'a polar bear 北极熊::2\nSteps: 20, Seed: 7';
  const png = await encodePng(solid(4, 3, 128), { parameters: text });
  expect(readTextChunks(png)).toEqual({ parameters: text });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect(info).toMatchObject({ width: 4, height: 3, channels: 3 });
  expect(data[0]).toBe(128);
});

test('encoding is deterministic', async () => {
  const image = rawImage(
    3,
    2,
    Uint8Array.from({ length: 18 }, (_, i) => i * 13),
  );
  expect(await encodePng(image, { parameters: 'x' })).toEqual(await encodePng(image, { parameters: 'x' }));
});

test('a grid places four images row-major', () => {
  const grid = composeGrid([solid(2, 1, 10), solid(2, 1, 20), solid(2, 1, 30), solid(2, 1, 40)]);
  expect(grid).toMatchObject({ width: 4, height: 2 });
  expect([...grid.data].filter((_, i) => i % 3 === 0)).toEqual([10, 10, 20, 20, 30, 30, 40, 40]);
  expect(() => composeGrid([solid(2, 1, 0), solid(1, 1, 0)])).toThrow(RangeError);
});

test('small model outputs are resampled so the grid is at least 512 px', async () => {
  expect(displayScale({ width: 32, height: 32 })).toBe(8);
  expect(displayScale({ width: 512, height: 768 })).toBe(1);
  expect(await forDisplay(solid(32, 16, 0))).toMatchObject({ width: 512, height: 256 });
  const { grid, images } = await renderGrid(
    [0, 1, 2, 3].map((v) => solid(32, 32, v * 60)),
    'cat\nSeed: 1',
  );
  const meta = await sharp(grid).metadata();
  expect(Math.min(meta.width!, meta.height!)).toBeGreaterThanOrEqual(512);
  expect(images).toHaveLength(4);
  expect(readTextChunks(images[2]!)['parameters']).toBe('cat\nSeed: 1, Image: 3');
});
