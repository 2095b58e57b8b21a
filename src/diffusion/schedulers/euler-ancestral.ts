/** Euler ancestral (Karras et al. 2022, k-diffusion), as diffusers' EulerAncestralDiscreteScheduler. */

import { type NoiseSource, type StepResult, stepPointwise } from './scheduler.js';
import { SigmaScheduler } from './sigma-scheduler.js';

export class EulerAncestralScheduler extends SigmaScheduler {
  readonly stochastic = true;

  step(modelOutput: Float32Array, index: number, sample: Float32Array, noise: NoiseSource): StepResult {
    const sigma = this.sigmas[index]!;
    const sigmaTo = this.sigmas[index + 1]!;
    const sigmaUp = Math.sqrt((sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
    const dt = sigmaDown - sigma;
    const next = (x: number, _out: number, x0: number, z: number) =>
      x + ((x - x0) / sigma) * dt + z * sigmaUp;
    return stepPointwise({ x0: this.cleanEstimate(index), next }, modelOutput, sample, noise());
  }
}
