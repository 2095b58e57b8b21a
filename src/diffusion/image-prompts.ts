/**
 * Image prompts on a model without an image encoder (stock SD): they cannot be conditions, so they become
 * the init image (img2img). The weighted mean of their latents is approximated by a weighted mean of the
 * pixels (/blend), and the result says so in its notes.
 */
import { resizeCover } from '../images/decode.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import { type Condition, type GenerationRequest, GenerationRequestError, type InitImage } from './request.js';

/** How strongly image prompts shape the init image when the model has no image encoder (see docs). */
export const IMAGE_PROMPT_INIT_STRENGTH = { min: 0.5, max: 1 } as const;

export interface ResolvedPrompts {
  conditions: readonly Condition[];
  init: InitImage | null;
  /** What the user should be told about how the image prompts were used. */
  notes: string[];
}

/** The request's conditions and init image as this model can take them. */
export async function resolveImagePrompts(
  request: GenerationRequest,
  hasImageEncoder: boolean,
): Promise<ResolvedPrompts> {
  const images = request.conditions.filter((c) => c.kind === 'image');
  if (hasImageEncoder || images.length === 0)
    return { conditions: request.conditions, init: request.init, notes: [] };
  const positive = images.filter((c) => c.weight > 0);
  const texts = request.conditions.filter((c) => c.kind === 'text');
  if (request.init) {
    // A variation: its init image is the parent, which is also its image prompt.
    const note = 'This model has no image encoder: image prompts act only through the init image (img2img).';
    return { conditions: texts, init: request.init, notes: [note] };
  }
  const notes = ['This model has no image encoder: image prompts were used as an init image (img2img).'];
  if (positive.length === 0) return { conditions: texts, init: null, notes };
  if (positive.length < images.length)
    notes.push('Negative image weights cannot steer an init image; they were ignored.');
  const total = positive.reduce((s, c) => s + c.weight, 0);
  const share = total / request.conditions.reduce((s, c) => s + Math.abs(c.weight), 0);
  // More weight on the images keeps more of them: share 1 (images only) -> strength 0.5; share 0 -> 1.
  const { min, max } = IMAGE_PROMPT_INIT_STRENGTH;
  const strength = max - (max - min) * Math.min(1, share);
  // /blend: the weighted mean of the images, each first fitted (cover) to the output size.
  const fitted = await Promise.all(
    positive.map(async (c) => ({
      image: await resizeCover(c.image, request.width, request.height),
      weight: c.weight,
    })),
  );
  return { conditions: texts, init: { image: blendPixels(fitted, total), strength }, notes };
}

/** The weighted mean of same-size images, weights divided by `total`. */
function blendPixels(images: readonly { image: RawImage; weight: number }[], total: number): RawImage {
  const first = images[0]!.image;
  if (images.length === 1) return first;
  const sum = new Float32Array(first.data.length);
  for (const { image, weight } of images) {
    if (image.width !== first.width || image.height !== first.height) {
      throw new GenerationRequestError('blended init images must share one size; resize them first');
    }
    for (let i = 0; i < sum.length; i++) sum[i]! += (image.data[i]! * weight) / total;
  }
  return rawImage(
    first.width,
    first.height,
    Uint8Array.from(sum, (v) => Math.round(v)),
  );
}
