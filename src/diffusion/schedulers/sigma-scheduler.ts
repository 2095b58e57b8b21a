/**
 * What the Euler samplers (plain and ancestral) share, as diffusers' Euler schedulers do: sigmas
 * interpolated from the training schedule at the spaced timesteps (final sigma zero), the starting noise
 * level, the variance-preserving input scaling, the clean estimate from the model output, and noising.
 */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod, interpolateAt, sigmasFromAlphas, spacedTimesteps } from './schedule.js';
import type { CleanCoefficients, NoiseSource, Scheduler, StepResult } from './scheduler.js';

export abstract class SigmaScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  abstract readonly stochastic: boolean;

  constructor(
    protected readonly config: SchedulerConfig,
    steps: number,
  ) {
    const trainSigmas = sigmasFromAlphas(alphasCumprod(config));
    this.timesteps = spacedTimesteps(config, steps, false);
    this.sigmas = [...this.timesteps.map((t) => interpolateAt(trainSigmas, t)), 0];
    const max = Math.max(...this.sigmas);
    // The noise a sample starts with: sigma_max for linspace/trailing, sqrt(sigma_max^2 + 1) for leading.
    this.initNoiseSigma =
      config.timestep_spacing === 'linspace' || config.timestep_spacing === 'trailing'
        ? max
        : Math.sqrt(max * max + 1);
  }

  /** x / sqrt(sigma^2 + 1): the UNet was trained on variance-preserving inputs. */
  scaleModelInput(sample: Float32Array, index: number): Float32Array {
    const sigma = this.sigmas[index]!;
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    return sample.map((x) => x * scale);
  }

  /** x0 = x - sigma * eps, or for v: x / (sigma^2 + 1) - v * sigma / sqrt(sigma^2 + 1). */
  cleanCoefficients(index: number): CleanCoefficients {
    const sigma = this.sigmas[index]!;
    return this.config.prediction_type === 'v_prediction'
      ? { sample: 1 / (sigma * sigma + 1), output: -sigma / Math.sqrt(sigma * sigma + 1) }
      : { sample: 1, output: -sigma };
  }

  /** The clean estimate x0 from sample value x and model output at step `index` (epsilon or v). */
  protected cleanEstimate(index: number): (x: number, out: number) => number {
    const { sample, output } = this.cleanCoefficients(index);
    return (x, out) => x * sample + out * output;
  }

  abstract step(
    modelOutput: Float32Array,
    index: number,
    sample: Float32Array,
    noise: NoiseSource,
  ): StepResult;

  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const sigma = this.sigmas[index]!;
    return original.map((x, i) => x + sigma * noise[i]!);
  }
}
