import type { GuidanceMode } from './config.js';

/**
 * Whether the UNet gets an unconditional row beside the conditions, shared by the engine (which runs it)
 * and the render deadlines (which count it). CFG models: always. Guidance-distilled models (Turbo,
 * `none`): not when the guidance scale is 1 and every weight is positive and they sum to 1, since then
 * e_u + g * sum w (e_c - e_u) = sum w e_c exactly; weighted or negative parts need it. LCM (`embedded`):
 * never; the scale goes in as the `timestep_cond` embedding and parts are mixed as sum w e_c.
 */
export function needsUnconditionalRow(
  mode: GuidanceMode,
  weights: readonly number[],
  guidanceScale: number,
): boolean {
  if (mode === 'cfg') return true;
  if (mode === 'embedded') return false;
  const sum = weights.reduce((a, w) => a + w, 0);
  const plain = weights.length > 0 && weights.every((w) => w > 0) && Math.abs(sum - 1) < 1e-6;
  return !(plain && guidanceScale === 1);
}

/** UNet rows per image per step: one per non-zero part, the unconditional one when needed, at least one. */
export function unetRowsPerImage(
  mode: GuidanceMode,
  weights: readonly number[],
  guidanceScale: number,
): number {
  const parts = weights.filter((w) => w !== 0);
  return Math.max(1, parts.length + (needsUnconditionalRow(mode, parts, guidanceScale) ? 1 : 0));
}
