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

/**
 * Resamples small model outputs for display and writes `parameters` into every PNG. Each encode starts as
 * soon as its pixels exist (a single once it is resampled, the grid once all four are), so sharp's threads
 * work on all five at once where the machine has cores to spare.
 */
export async function renderGrid(images: readonly RawImage[], parameters: string): Promise<RenderedImages> {
  const display = images.map((image) => forDisplay(image));
  const singles = display.map((image, i) =>
    image.then((cell) => encodePng(cell, { parameters: `${parameters}, Image: ${i + 1}` })),
  );
  const grid = Promise.all(display).then((cells) => encodePng(composeGrid(cells), { parameters }));
  // One Promise.all over every encode: a failure anywhere is reported once, never left unhandled.
  const [gridPng, ...encoded] = await Promise.all([grid, ...singles]);
  const { width, height } = await display[0]!;
  return { grid: gridPng!, images: encoded, width, height };
}
