/**
 * Fingerprints of an image, so one the bot made is recognised when it comes back (saved from Discord,
 * uploaded to /blend, linked in a prompt): an exact hash of its pixels, and a perceptual hash (pHash:
 * the signs of the low frequencies of a 32x32 grey version against their median) that survives JPEG
 * re-encoding and resizing.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';

export interface ImageHashes {
  /** sha256 of the RGB pixels at the image's own size. */
  exact: string;
  /** 64 bits as 16 hex digits. */
  perceptual: string;
  /** The image's own size: of several stored copies of one picture, the largest is taken. */
  width: number;
  height: number;
}

const SIDE = 32;
const LOW = 8;

// cos((2x + 1) u pi / 2N), for the 2-D DCT-II of the 32x32 image's 8x8 lowest frequencies.
const COS = Array.from({ length: LOW }, (_, u) =>
  Float64Array.from({ length: SIDE }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * SIDE))),
);

export async function imageHashes(bytes: Uint8Array): Promise<ImageHashes> {
  const rgb = await sharp(bytes, { limitInputPixels: 4096 * 4096 })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const exact = createHash('sha256')
    .update(`${rgb.info.width}x${rgb.info.height}:`)
    .update(rgb.data)
    .digest('hex');
  const grey = await sharp(rgb.data, { raw: { width: rgb.info.width, height: rgb.info.height, channels: 3 } })
    .resize(SIDE, SIDE, { fit: 'fill', kernel: 'lanczos3' })
    .grayscale()
    .raw()
    .toBuffer();
  return { exact, perceptual: perceptualHash(grey), width: rgb.info.width, height: rgb.info.height };
}

/** pHash of a 32x32 grey image (one byte a pixel). */
export function perceptualHash(grey: Uint8Array): string {
  const coefficients: number[] = [];
  for (let u = 0; u < LOW; u++) {
    for (let v = 0; v < LOW; v++) {
      let sum = 0;
      for (let y = 0; y < SIDE; y++) {
        let row = 0;
        for (let x = 0; x < SIDE; x++) row += grey[y * SIDE + x]! * COS[v]![x]!;
        sum += row * COS[u]![y]!;
      }
      coefficients.push(sum);
    }
  }
  // The DC term says only how bright the image is: leave it out of the median.
  const median = [...coefficients.slice(1)].sort((a, b) => a - b)[Math.floor((coefficients.length - 1) / 2)]!;
  let bits = 0n;
  for (const c of coefficients) bits = (bits << 1n) | (c > median ? 1n : 0n);
  return bits.toString(16).padStart(16, '0');
}

/** Bits in which two perceptual hashes differ (0-64). */
export function hammingDistance(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let count = 0;
  while (x) {
    count += Number(x & 1n);
    x >>= 1n;
  }
  return count;
}
