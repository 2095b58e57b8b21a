import sharp from 'sharp';
import { ImageInputError } from '../../src/images/errors.js';
import { prepareInputImage } from '../../src/images/input-image.js';

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImageInputError);
    return (error as ImageInputError).code;
  }
  throw new Error('expected an ImageInputError');
}

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();

test('a member image is scaled to fit the kept side and stored as PNG, never enlarged', async () => {
  const big = await prepareInputImage(await png(400, 100), { keepSide: 64 });
  expect(big).toMatchObject({ width: 64, height: 16 });
  expect((await sharp(big.png).metadata()).format).toBe('png');
  expect(await prepareInputImage(await png(20, 10), { keepSide: 64 })).toMatchObject({
    width: 20,
    height: 10,
  });
});

test('the header checks of decodeImage refuse before any pixel is decoded', async () => {
  const bytes = await png(64, 16);
  expect(await code(prepareInputImage(bytes, { keepSide: 64, maxBytes: 10 }))).toBe('too-many-bytes');
  expect(await code(prepareInputImage(bytes, { keepSide: 64, maxSide: 32 }))).toBe('too-large');
  expect(await code(prepareInputImage(bytes, { keepSide: 64, maxPixels: 100 }))).toBe('too-many-pixels');
  expect(await code(prepareInputImage(bytes, { keepSide: 64, formats: ['jpeg'] }))).toBe(
    'unsupported-format',
  );
  expect(await code(prepareInputImage(new TextEncoder().encode('<html>'), { keepSide: 64 }))).toBe(
    'not-an-image',
  );
});

test('images sent at once are each prepared, a refused one failing alone', async () => {
  const bytes = await png(100, 100);
  const results = await Promise.allSettled([
    prepareInputImage(bytes, { keepSide: 50 }),
    prepareInputImage(new TextEncoder().encode('nope'), { keepSide: 50 }),
    prepareInputImage(bytes, { keepSide: 25 }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(results[2]).toMatchObject({ value: { width: 25, height: 25 } });
});
