import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, resizeCover } from '../../src/images/decode.js';
import { ImageInputError } from '../../src/images/errors.js';
import { pngChunk } from '../../src/images/png.js';
import { rawImage } from '../../src/images/raw-image.js';

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImageInputError);
    return (error as ImageInputError).code;
  }
  throw new Error('expected an ImageInputError');
}

/** A PNG whose header claims width x height but whose pixel data is a few bytes: a decompression bomb. */
function bombPng(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(new Uint8Array(1024))),
    pngChunk('IEND', new Uint8Array()),
  ];
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

test('RGBA is composited on white and returned as RGB', async () => {
  const png = await sharp({
    create: { width: 2, height: 1, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } },
  })
    .png()
    .toBuffer();
  const image = await decodeImage(png);
  expect(image).toMatchObject({ width: 2, height: 1 });
  expect([...image.data]).toEqual([255, 255, 255, 255, 255, 255]);
});

test('JPEG and WebP decode', async () => {
  for (const format of ['jpeg', 'webp'] as const) {
    const bytes = await sharp({ create: { width: 8, height: 4, channels: 3, background: '#336699' } })
      .toFormat(format)
      .toBuffer();
    expect(await decodeImage(bytes)).toMatchObject({ width: 8, height: 4 });
  }
});

test('bytes that are not an image are refused', async () => {
  expect(await code(decodeImage(new TextEncoder().encode('<html>not an image</html>')))).toBe('not-an-image');
});

test('a decompression bomb is refused from its header', async () => {
  expect(await code(decodeImage(bombPng(50_000, 50_000)))).toBe('too-many-pixels');
});

test('byte, side and format limits', async () => {
  const png = await sharp({ create: { width: 64, height: 16, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  expect(await code(decodeImage(png, { maxBytes: 10 }))).toBe('too-many-bytes');
  expect(await code(decodeImage(png, { maxSide: 32 }))).toBe('too-large');
  expect(await code(decodeImage(png, { formats: ['jpeg'] }))).toBe('unsupported-format');
  const tiff = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } })
    .tiff()
    .toBuffer();
  expect(await code(decodeImage(tiff))).toBe('unsupported-format');
});

test('resizeCover fills the target without stretching', async () => {
  const wide = rawImage(
    4,
    2,
    Uint8Array.from({ length: 24 }, (_, i) => (i < 12 ? 0 : 255)),
  );
  const square = await resizeCover(wide, 2, 2);
  expect(square).toMatchObject({ width: 2, height: 2 });
});
