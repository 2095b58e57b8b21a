/** The finished job as PNGs people can look at in Discord: a 2x2 grid and the single images. */

import { composeGrid, forDisplay } from './grid.js';
import { encodePng } from './png.js';
import type { RawImage } from './raw-image.js';

export interface RenderedImages {
  grid: Uint8Array;
  images: Uint8Array[];
  /** Size of each single image as encoded (after display resampling); the grid is twice each side. */
  width: number;
  height: number;
}

/** Resamples small model outputs for display and writes `parameters` into every PNG. */
export async function renderGrid(images: readonly RawImage[], parameters: string): Promise<RenderedImages> {
  const display = await Promise.all(images.map((image) => forDisplay(image)));
  const grid = await encodePng(composeGrid(display), { parameters });
  const singles = await Promise.all(
    display.map((image, i) => encodePng(image, { parameters: `${parameters}, Image: ${i + 1}` })),
  );
  const { width, height } = display[0]!;
  return { grid, images: singles, width, height };
}
