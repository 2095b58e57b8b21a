/** The 2x upscale of one grid image (the U buttons): the model's upscaler when it ships one, else sharp. */
import { resizeBy, resizeCover } from '../images/decode.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import type { ModelSession } from './backend.js';
import { rgbToTensor, tensorToRgbImages } from './latent-ops.js';

export interface Upscaled {
  image: RawImage;
  method: 'model' | 'sharp';
}

/** 2x with `upscaler` (trained on `nativeSize` px images), or sharp's Lanczos when there is none. */
export async function upscaleImage(
  upscaler: ModelSession | null,
  nativeSize: number,
  image: RawImage,
): Promise<Upscaled> {
  if (!upscaler) return { image: await resizeBy(image, 2), method: 'sharp' };
  // The upscaler was trained on the model's own output size; the parent image usually arrives resampled
  // for display (e.g. 32 px shown at 256 px), so bring it back to the native area first.
  const shrink = Math.sqrt((nativeSize * nativeSize) / (image.width * image.height));
  if (shrink < 1) {
    image = await resizeCover(
      image,
      Math.max(1, Math.round(image.width * shrink)),
      Math.max(1, Math.round(image.height * shrink)),
    );
  }
  const input = upscaler.inputs.keys().next().value ?? 'image';
  const out = await upscaler.run({
    [input]: { kind: 'float', tensor: rgbToTensor(image.data, image.height, image.width, true) },
  });
  const result = Object.values(out)[0]!;
  const [, , height = 0, width = 0] = result.dims;
  const [pixels] = tensorToRgbImages({ data: result.data.map((v) => v * 2 - 1), dims: result.dims });
  return { image: rawImage(width, height, pixels!), method: 'model' };
}
