/** The 2x upscale of one grid image (the U buttons): the model's upscaler when it ships one, else sharp. */
import { resizeBy } from '../images/decode.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import type { ModelSession } from './backend.js';
import { rgbToTensor, tensorToRgbImages } from './latent-ops.js';

export interface Upscaled {
  image: RawImage;
  method: 'model' | 'sharp';
}

/** 2x of the image as given, with the model's fully convolutional `upscaler`, or sharp's Lanczos without one. */
export async function upscaleImage(upscaler: ModelSession | null, image: RawImage): Promise<Upscaled> {
  if (!upscaler) return { image: await resizeBy(image, 2), method: 'sharp' };
  const input = upscaler.inputs.keys().next().value ?? 'image';
  const out = await upscaler.run({
    [input]: { kind: 'float', tensor: rgbToTensor(image.data, image.height, image.width, true) },
  });
  const result = Object.values(out)[0]!;
  const [, , height = 0, width = 0] = result.dims;
  const [pixels] = tensorToRgbImages({ data: result.data.map((v) => v * 2 - 1), dims: result.dims });
  return { image: rawImage(width, height, pixels!), method: 'model' };
}
