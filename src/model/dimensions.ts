/** Width and height of an aspect ratio, e.g. 3:2 (only their ratio matters). */
export interface AspectRatio {
  width: number;
  height: number;
}

export interface Dimensions {
  width: number;
  height: number;
}

/**
 * Pixel size for an aspect ratio on a model whose native output is `baseSize` square: keep the area of
 * the native square (what the model was trained on) and round each side to `multiple` (the VAE factor
 * times any UNet downsampling), never below one multiple.
 */
export function dimensionsFor(aspect: AspectRatio, baseSize: number, multiple: number): Dimensions {
  const ratio = aspect.width / aspect.height;
  const area = baseSize * baseSize;
  const round = (value: number) => Math.max(multiple, Math.round(value / multiple) * multiple);
  return { width: round(Math.sqrt(area * ratio)), height: round(Math.sqrt(area / ratio)) };
}
