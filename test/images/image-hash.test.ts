import sharp from 'sharp';
import { hammingDistance, imageHashes } from '../../src/images/image-hash.js';

/** A picture with structure at several scales (stripes, a disc), different per seed. */
async function picture(seed: number, size = 512): Promise<Buffer> {
  const raw = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      const disc = (x - size * (0.3 + 0.1 * seed)) ** 2 + (y - size / 2) ** 2 < (size / 5) ** 2;
      raw[i] = disc ? 230 : (x * (seed + 1)) % 256;
      raw[i + 1] = (y * 3 + seed * 40) % 256;
      raw[i + 2] = disc ? 20 : ((x + y) * seed) % 256;
    }
  }
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

test('the same pixels give the same exact hash, whatever the file; other pixels another', async () => {
  const png = await picture(1);
  const recompressed = await sharp(png).png({ compressionLevel: 1 }).toBuffer();
  expect(recompressed.equals(png)).toBe(false);
  expect((await imageHashes(recompressed)).exact).toBe((await imageHashes(png)).exact);
  expect((await imageHashes(await picture(2))).exact).not.toBe((await imageHashes(png)).exact);
});

test('the perceptual hash survives JPEG and resizing; different images stay far apart', async () => {
  const original = await imageHashes(await picture(1));
  const jpeg = await sharp(await picture(1))
    .resize(300, 300)
    .jpeg({ quality: 70 })
    .toBuffer();
  const bigger = await sharp(await picture(1))
    .resize(900, 900)
    .webp({ quality: 80 })
    .toBuffer();
  expect(hammingDistance(original.perceptual, (await imageHashes(jpeg)).perceptual)).toBeLessThanOrEqual(6);
  expect(hammingDistance(original.perceptual, (await imageHashes(bigger)).perceptual)).toBeLessThanOrEqual(6);
  for (const other of [2, 3, 4]) {
    const distance = hammingDistance(
      original.perceptual,
      (await imageHashes(await picture(other))).perceptual,
    );
    expect(distance).toBeGreaterThan(12);
  }
});

test('hamming distance counts differing bits', () => {
  expect(hammingDistance('0000000000000000', '0000000000000000')).toBe(0);
  expect(hammingDistance('ffffffffffffffff', '0000000000000000')).toBe(64);
  expect(hammingDistance('0000000000000001', '0000000000000003')).toBe(1);
});
