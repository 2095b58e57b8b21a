/**
 * Composable Diffusion guidance (Liu et al. 2022):  e = e_u + g * sum_c w_c (e_c - e_u)
 * with the parser's normalized weights w_c (text and image prompts alike; a negative weight pushes away).
 *
 * The UNet output holds every condition for every image in one batch, condition-major:
 * rows [c * images + i] for c = 0 (unconditional), 1..C, and i = 0..images-1.
 */
export interface GuidanceLayout {
  images: number;
  /** Values per row (channels * height * width). */
  rowSize: number;
}

export function combineGuidance(
  prediction: Float32Array,
  layout: GuidanceLayout,
  weights: readonly number[],
  scales: readonly number[],
): Float32Array {
  const { images, rowSize } = layout;
  if (prediction.length !== (weights.length + 1) * images * rowSize) {
    throw new RangeError(
      `guidance: ${prediction.length} values for ${weights.length} conditions x ${images} images`,
    );
  }
  if (scales.length !== images)
    throw new RangeError(`guidance: ${scales.length} scales for ${images} images`);
  const out = new Float32Array(images * rowSize);
  for (let i = 0; i < images; i++) {
    const base = i * rowSize;
    const g = scales[i]!;
    for (let k = 0; k < rowSize; k++) {
      const uncond = prediction[base + k]!;
      let sum = 0;
      for (let c = 0; c < weights.length; c++) {
        sum += weights[c]! * (prediction[(c + 1) * images * rowSize + base + k]! - uncond);
      }
      out[base + k] = uncond + g * sum;
    }
  }
  return out;
}

/**
 * Without an unconditional row (guidance-distilled and LCM models): e = sum_c w_c e_c, rows laid out as
 * for `combineGuidance` minus the unconditional block. With one condition of weight 1 it is e_c itself.
 */
export function combineConditional(
  prediction: Float32Array,
  layout: GuidanceLayout,
  weights: readonly number[],
): Float32Array {
  const { images, rowSize } = layout;
  const size = images * rowSize;
  if (prediction.length !== weights.length * size) {
    throw new RangeError(
      `guidance: ${prediction.length} values for ${weights.length} conditions x ${images} images`,
    );
  }
  if (weights.length === 1 && weights[0] === 1) return prediction.slice(0, size);
  const out = new Float32Array(size);
  for (let c = 0; c < weights.length; c++) {
    const w = weights[c]!;
    const offset = c * size;
    for (let k = 0; k < size; k++) out[k]! += w * prediction[offset + k]!;
  }
  return out;
}
