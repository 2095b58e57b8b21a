/** DDIM (Song et al. 2020), as diffusers' DDIMScheduler: eta = 0 deterministic, eta = 1 DDPM-like. */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod, spacedTimesteps } from './schedule.js';
import {
  type CleanCoefficients,
  type NoiseSource,
  type Scheduler,
  type StepResult,
  stepPointwise,
} from './scheduler.js';

export class DdimScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly stochastic: boolean;
  private readonly alphas: Float64Array;
  private readonly finalAlpha: number;
  private readonly stride: number;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
    private readonly eta = 0,
  ) {
    this.alphas = alphasCumprod(config);
    this.finalAlpha = config.set_alpha_to_one ? 1 : this.alphas[0]!;
    this.timesteps = spacedTimesteps(config, steps, true);
    this.stride = Math.floor(config.num_train_timesteps / steps);
    this.stochastic = eta > 0;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, noise: NoiseSource): StepResult {
    const t = this.timesteps[index]!;
    const prev = t - this.stride;
    const aT = this.alphas[t]!;
    const aPrev = prev >= 0 ? this.alphas[prev]! : this.finalAlpha;
    const sqrtA = Math.sqrt(aT);
    const sqrt1mA = Math.sqrt(1 - aT);
    const variance = ((1 - aPrev) / (1 - aT)) * (1 - aT / aPrev);
    const std = this.eta * Math.sqrt(variance);
    const direction = Math.sqrt(1 - aPrev - std * std);
    const sqrtAPrev = Math.sqrt(aPrev);
    const v = this.config.prediction_type === 'v_prediction';
    const clean = this.cleanCoefficients(index);
    const x0 = (x: number, out: number) => clean.sample * x + clean.output * out;
    const eps = v ? (x: number, out: number) => sqrtA * out + sqrt1mA * x : (_x: number, out: number) => out;
    const next = (x: number, out: number, x0: number, z: number) =>
      sqrtAPrev * x0 + direction * eps(x, out) + std * z;
    return stepPointwise({ x0, next }, modelOutput, sample, this.stochastic ? noise() : null);
  }

  /** x0 = (x - sqrt(1 - a) eps) / sqrt(a), or for v: sqrt(a) x - sqrt(1 - a) v. */
  cleanCoefficients(index: number): CleanCoefficients {
    const a = this.alphas[this.timesteps[index]!]!;
    return this.config.prediction_type === 'v_prediction'
      ? { sample: Math.sqrt(a), output: -Math.sqrt(1 - a) }
      : { sample: 1 / Math.sqrt(a), output: -Math.sqrt(1 - a) / Math.sqrt(a) };
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const a = this.alphas[this.timesteps[index]!]!;
    const s = Math.sqrt(a);
    const n = Math.sqrt(1 - a);
    return original.map((x, i) => s * x + n * noise[i]!);
  }
}
