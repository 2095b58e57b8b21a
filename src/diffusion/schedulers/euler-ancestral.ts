/** Euler ancestral (Karras et al. 2022, k-diffusion), as diffusers' EulerAncestralDiscreteScheduler. */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod, interpolateAt, sigmasFromAlphas, spacedTimesteps } from './schedule.js';
import { type NoiseSource, type Scheduler, type StepResult, stepPointwise } from './scheduler.js';

export class EulerAncestralScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  readonly stochastic = true;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
  ) {
    const trainSigmas = sigmasFromAlphas(alphasCumprod(config));
    this.timesteps = spacedTimesteps(config, steps, false);
    this.sigmas = [...this.timesteps.map((t) => interpolateAt(trainSigmas, t)), 0];
    const max = Math.max(...this.sigmas);
    this.initNoiseSigma =
      config.timestep_spacing === 'linspace' || config.timestep_spacing === 'trailing'
        ? max
        : Math.sqrt(max * max + 1);
  }

  scaleModelInput(sample: Float32Array, index: number): Float32Array {
    const sigma = this.sigmas[index]!;
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    return sample.map((x) => x * scale);
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, noise: NoiseSource): StepResult {
    const sigma = this.sigmas[index]!;
    const sigmaTo = this.sigmas[index + 1]!;
    const sigmaUp = Math.sqrt((sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
    const dt = sigmaDown - sigma;
    const vOut = -sigma / Math.sqrt(sigma * sigma + 1);
    const vIn = 1 / (sigma * sigma + 1);
    const x0 =
      this.config.prediction_type === 'v_prediction'
        ? (x: number, out: number) => out * vOut + x * vIn
        : (x: number, out: number) => x - sigma * out;
    const next = (x: number, _out: number, x0: number, z: number) =>
      x + ((x - x0) / sigma) * dt + z * sigmaUp;
    return stepPointwise({ x0, next }, modelOutput, sample, noise());
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const sigma = this.sigmas[index]!;
    return original.map((x, i) => x + sigma * noise[i]!);
  }
}
