/**
 * Masked sampling for any model (no inpainting UNet needed): at every step the kept part of the latents
 * is the source's latent noised to that step's level, blended through a latent-resolution mask; at the
 * end the kept pixels are the source's own, joined to the painted ones over a soft seam.
 */
import { type RawImage, rawImage } from '../images/raw-image.js';

/** The pixel mask (1 paint, 0 keep) averaged over each latent cell of `factor` x `factor` pixels. */
export function latentMask(mask: Float32Array, width: number, height: number, factor: number): Float32Array {
  const w = width / factor;
  const h = height / factor;
  const out = new Float32Array(w * h);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      out[Math.floor(y / factor) * w + Math.floor(x / factor)]! += mask[y * width + x]!;
  }
  return out.map((v) => v / (factor * factor));
}

/**
 * `latents` (images x channels x plane) where the mask paints, `known` (one image, channels x plane,
 * the same for every grid image) where it keeps.
 */
export function blendKept(latents: Float32Array, known: Float32Array, mask: Float32Array): Float32Array {
  const plane = mask.length;
  const row = known.length;
  return latents.map((value, i) => {
    const m = mask[i % plane]!;
    return m * value + (1 - m) * known[i % row]!;
  });
}

/** The mask softened over `radius` pixels (a box blur, twice): the seam's blend weights. */
export function featheredMask(
  mask: Float32Array,
  width: number,
  height: number,
  radius: number,
): Float32Array {
  let out = mask;
  for (let pass = 0; pass < 2; pass++) {
    const horizontal = new Float32Array(out.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        let n = 0;
        for (let d = -radius; d <= radius; d++) {
          const xx = x + d;
          if (xx >= 0 && xx < width) {
            sum += out[y * width + xx]!;
            n++;
          }
        }
        horizontal[y * width + x] = sum / n;
      }
    }
    const vertical = new Float32Array(out.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        let n = 0;
        for (let d = -radius; d <= radius; d++) {
          const yy = y + d;
          if (yy >= 0 && yy < height) {
            sum += horizontal[yy * width + x]!;
            n++;
          }
        }
        vertical[y * width + x] = sum / n;
      }
    }
    out = vertical;
  }
  return out;
}

/** The generated image where `alpha` is 1, the source where it is 0, blended between. */
export function composite(generated: RawImage, source: RawImage, alpha: Float32Array): RawImage {
  const data = new Uint8Array(generated.data.length);
  for (let p = 0; p < alpha.length; p++) {
    const a = alpha[p]!;
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      data[i] = Math.round(a * generated.data[i]! + (1 - a) * source.data[i]!);
    }
  }
  return rawImage(generated.width, generated.height, data);
}
