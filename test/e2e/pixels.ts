/**
 * How the end-to-end tests compare pictures: both sides shrunk to the same small raw thumbnail, then the
 * mean difference of their values. Model output is noisy pixel by pixel, so only thumbnails compare well.
 */
import sharp from 'sharp';

/** A part of an image, in fractions of its width and height. */
export interface Cut {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Quadrant `index` (0-3, row-major) of a 2x2 grid. */
export const quadrant = (index: number): Cut => ({
  left: (index % 2) / 2,
  top: Math.floor(index / 2) / 2,
  width: 0.5,
  height: 0.5,
});

/**
 * An image's pixels at `size` x `size`, optionally cut from a part of it first. The resize fills the square,
 * so a wide image and a square one still compare cell by cell.
 */
export async function pixels(png: Uint8Array, size: number, cut?: Cut): Promise<Buffer> {
  let image = sharp(png);
  if (cut) {
    const meta = await sharp(png).metadata();
    image = sharp(
      await image
        .extract({
          left: Math.round(cut.left * meta.width!),
          top: Math.round(cut.top * meta.height!),
          width: Math.round(cut.width * meta.width!),
          height: Math.round(cut.height * meta.height!),
        })
        .toBuffer(),
    );
  }
  return image.resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}

/** Mean absolute difference of two equally long raw buffers, in channel values (0-255). */
export const mad = (a: Buffer, b: Buffer) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;
