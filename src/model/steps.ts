/** How many denoising steps a job takes: one rule for the bot's policy, the engine and the deadlines. */
import type { Distillation } from './config.js';

/** Steps at `--q 1` when a model folder names none (diffusers' usual default for SD pipelines). */
export const DEFAULT_STEPS = 20;

/**
 * The step range a few-step family was distilled for, and its steps at `--q 1` when the folder names none.
 * Turbo (ADD): 1-4 steps, 1 already a finished image (the model cards use 1; 4 is the most they were
 * trained for). LCM: 4-8 (the LCM pipeline's default is 4; below 4 images are visibly softer, above 8 no
 * longer improve). `--q` (.25, .5, 1, 2) scales `base` and is clamped to the range, so `--q 2` is the top
 * of the range and `--q .25` its bottom.
 */
export const FEW_STEP_RANGES: Readonly<Record<Exclude<Distillation, 'none'>, StepRange>> = Object.freeze({
  turbo: { min: 1, max: 4, base: 2 },
  lcm: { min: 4, max: 8, base: 4 },
});

export interface StepRange {
  min: number;
  max: number;
  /** Steps at `--q 1` unless the model folder names its own (clamped to the range). */
  base: number;
}

/**
 * `--q` scales the model's steps; at least one. A few-step family (`distilled` from the model config's
 * `family`) stays in its range: Turbo `--q .25 / .5 / 1 / 2` -> 1 / 1 / 2 / 4 steps, LCM -> 4 / 4 / 4 / 8.
 * `modelSteps` is the folder's own step count when it names one (model_index `default_steps` /
 * `recommended.steps`), else pass `baseStepsFor(distilled)`.
 */
export function stepsForQuality(
  quality: number,
  modelSteps: number,
  distilled: Distillation = 'none',
): number {
  if (distilled === 'none') return Math.max(1, Math.round(modelSteps * quality));
  const range = FEW_STEP_RANGES[distilled];
  const base = clamp(modelSteps, range.min, range.max);
  return clamp(Math.round(base * quality), range.min, range.max);
}

/** Steps at `--q 1` for a family when its folder names none. */
export function baseStepsFor(distilled: Distillation = 'none'): number {
  return distilled === 'none' ? DEFAULT_STEPS : FEW_STEP_RANGES[distilled].base;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
