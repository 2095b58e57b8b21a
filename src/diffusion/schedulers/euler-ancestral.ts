/** Euler ancestral (Karras et al. 2022, k-diffusion), as diffusers' EulerAncestralDiscreteScheduler. */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod, interpolateAt, sigmasFromAlphas, spacedTimesteps } from './schedule.js';
import type { Scheduler, StepResult } from './scheduler.js';

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

  step(
    modelOutput: Float32Array,
    index: number,
    sample: Float32Array,
    noise: () => Float32Array,
  ): StepResult {
    const sigma = this.sigmas[index]!;
    const sigmaTo = this.sigmas[index + 1]!;
    const sigmaUp = Math.sqrt((sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
    const dt = sigmaDown - sigma;
    const z = noise();
    const v = this.config.prediction_type === 'v_prediction';
    const vOut = -sigma / Math.sqrt(sigma * sigma + 1);
    const vIn = 1 / (sigma * sigma + 1);
    const prevSample = new Float32Array(sample.length);
    const predOriginal = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const out = modelOutput[i]!;
      const x0 = v ? out * vOut + x * vIn : x - sigma * out;
      predOriginal[i] = x0;
      prevSample[i] = x + ((x - x0) / sigma) * dt + z[i]! * sigmaUp;
    }
    return { prevSample, predOriginal };
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const sigma = this.sigmas[index]!;
    return original.map((x, i) => x + sigma * noise[i]!);
  }
}
