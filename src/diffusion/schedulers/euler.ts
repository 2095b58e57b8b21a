/**
 * Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0), as diffusers' EulerDiscreteScheduler with its
 * defaults (linear sigma interpolation, no Karras sigmas, final sigma zero): deterministic, one model call per
 * step. With `trailing` spacing the first step starts at t = T - 1 (full noise), which is what the
 * guidance-distilled Turbo models are run with in 1-4 steps.
 */

import { type StepResult, stepPointwise } from './scheduler.js';
import { SigmaScheduler } from './sigma-scheduler.js';

export class EulerScheduler extends SigmaScheduler {
  readonly stochastic = false;

  /** x0 from the prediction, then x + (x - x0) / sigma * (sigma_next - sigma). */
  step(modelOutput: Float32Array, index: number, sample: Float32Array): StepResult {
    const sigma = this.sigmas[index]!;
    const dt = this.sigmas[index + 1]! - sigma;
    const next = (x: number, _out: number, x0: number) => x + ((x - x0) / sigma) * dt;
    return stepPointwise({ x0: this.cleanEstimate(index), next }, modelOutput, sample, null);
  }
}
