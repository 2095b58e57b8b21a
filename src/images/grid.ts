/** 2x2 grids and display sizing, on raw RGB buffers (no encoding until the end). */
import { resizeBy } from './decode.js';
import { type RawImage, rawImage } from './raw-image.js';

/** Pixels the shorter side of one grid cell gets for display (so a 2x2 grid is at least 512 px). */
export const DISPLAY_CELL_SIDE = 256;

/**
 * The factor that brings an image's shorter side to at least `side` px. Small models (32-64 px) are
 * resampled for Discord; SD-size images are left alone.
 */
export function displayScale(image: { width: number; height: number }, side = DISPLAY_CELL_SIDE): number {
  const short = Math.min(image.width, image.height);
  return short >= side ? 1 : Math.ceil(side / short);
}

export async function forDisplay(image: RawImage, side = DISPLAY_CELL_SIDE): Promise<RawImage> {
  const factor = displayScale(image, side);
  return factor === 1 ? image : resizeBy(image, factor);
}

/** Places up to four same-size images in a 2x2 grid (row-major: 1 2 / 3 4); missing cells stay white. */
export function composeGrid(cells: readonly RawImage[]): RawImage {
  const first = cells[0];
  if (!first) throw new RangeError('a grid needs at least one image');
  const { width, height } = first;
  if (cells.length > 4 || cells.some((c) => c.width !== width || c.height !== height)) {
    throw new RangeError('a grid takes up to four images of one size');
  }
  const gridWidth = width * 2;
  const out = new Uint8Array(gridWidth * height * 2 * 3).fill(255);
  cells.forEach((cell, index) => {
    const left = (index % 2) * width;
    const top = Math.floor(index / 2) * height;
    for (let y = 0; y < height; y++) {
      const src = cell.data.subarray(y * width * 3, (y + 1) * width * 3);
      out.set(src, ((top + y) * gridWidth + left) * 3);
    }
  });
  return rawImage(gridWidth, height * 2, out);
}
