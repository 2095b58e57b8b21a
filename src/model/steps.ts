/** How many denoising steps a job takes: one rule for the bot's policy, the engine and the deadlines. */

/** Steps at `--q 1` when a model folder names none (diffusers' usual default for SD pipelines). */
export const DEFAULT_STEPS = 20;

/** `--q` scales the model's steps; at least one. */
export function stepsForQuality(quality: number, modelSteps: number): number {
  return Math.max(1, Math.round(modelSteps * quality));
}
