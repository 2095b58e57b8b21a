/**
 * Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0), as diffusers' EulerDiscreteScheduler with its
 * defaults (linear sigma interpolation, no Karras sigmas, final sigma zero): deterministic, one model call per
 * step. With `trailing` spacing the first step starts at t = T - 1 (full noise), which is what the
 * guidance-distilled Turbo models are run with in 1-4 steps.
 */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod, interpolateAt, sigmasFromAlphas, spacedTimesteps } from './schedule.js';
import { type Scheduler, type StepResult, stepPointwise } from './scheduler.js';

export class EulerScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  readonly stochastic = false;

  constructor(
    private readonly config: SchedulerConfig,
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

  /** x0 from the prediction, then x + (x - x0) / sigma * (sigma_next - sigma). */
  step(modelOutput: Float32Array, index: number, sample: Float32Array): StepResult {
    const sigma = this.sigmas[index]!;
    const dt = this.sigmas[index + 1]! - sigma;
    const vOut = -sigma / Math.sqrt(sigma * sigma + 1);
    const vIn = 1 / (sigma * sigma + 1);
    const x0 =
      this.config.prediction_type === 'v_prediction'
        ? (x: number, out: number) => out * vOut + x * vIn
        : (x: number, out: number) => x - sigma * out;
    const next = (x: number, _out: number, x0: number) => x + ((x - x0) / sigma) * dt;
    return stepPointwise({ x0, next }, modelOutput, sample, null);
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const sigma = this.sigmas[index]!;
    return original.map((x, i) => x + sigma * noise[i]!);
  }
}
