import type { ImagePrompt, TextPrompt, WeightedPrompt } from './spec.js';

/** Every weight is 0: nothing would steer the image. */
export class ZeroWeightsError extends Error {
  override readonly name = 'ZeroWeightsError';
}

/**
 * How far normalized weights may add up in magnitude (sum of |normalized|). Four single prompts' worth of
 * guidance is already far past what a sampler renders cleanly; `tulips:: red::-.5` (3) fits exactly as
 * Midjourney defines it.
 */
export const MAX_GUIDANCE_MASS = 4;

/**
 * Midjourney normalizes by the sum: `space:: ship` == `space::100 ship::100`, `tulips:: red::-.5` ==
 * `tulips::2 red::-1`. That rule breaks down where it is not defined: a sum near zero blows the weights up
 * without bound (`a::1 b::-0.99` -> 100, -99), and a negative sum flips every sign. So the divisor is
 *
 *     D = max(|sum|, sum(|w|) / MAX_GUIDANCE_MASS)
 *
 * - sum > 0 and not tiny: D = sum, exactly Midjourney's rule (the normalized weights add up to 1);
 * - sum < 0: D = |sum|, signs kept, the normalized weights add up to -1: `logo::-99.99` alone becomes
 *   `logo::-1`, one prompt's worth of guidance pointed away from the logo, which is what the weight says;
 * - |sum| small or 0: capped so the magnitudes add up to at most MAX_GUIDANCE_MASS.
 * D is continuous in the weights, so nearby prompts give nearby results on both sides of zero.
 */
export function normalizeWeights(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const mass = weights.reduce((a, b) => a + Math.abs(b), 0);
  if (mass === 0) throw new ZeroWeightsError('all weights are 0, so nothing would steer the image');
  const divisor = Math.max(Math.abs(sum), mass / MAX_GUIDANCE_MASS);
  return weights.map((weight) => weight / divisor);
}

/** Rounds away float noise (so 1/3 prints as 0.333333333333) and turns -0 into 0. */
function tidy(value: number): number {
  const rounded = Number(value.toPrecision(12));
  return rounded === 0 ? 0 : rounded;
}

export type WrittenPrompt = Omit<TextPrompt, 'normalized'> | Omit<ImagePrompt, 'normalized'>;

/**
 * The one place prompts get their normalized weights and their sum: the parser, /blend and every
 * derived job (variations, remixes) go through it.
 */
export function weighPrompts(written: readonly WrittenPrompt[]): {
  prompts: WeightedPrompt[];
  weightSum: number;
} {
  const normalized = normalizeWeights(written.map((p) => p.weight));
  return {
    prompts: written.map((p, i) => ({ ...p, normalized: tidy(normalized[i]!) }) as WeightedPrompt),
    weightSum: tidy(written.reduce((sum, p) => sum + p.weight, 0)),
  };
}
