/**
 * Latent Consistency Model sampling (Luo et al. 2023, Algorithm 1), as diffusers' LCMScheduler:
 *
 * - timesteps: the distillation schedule is `original_inference_steps` points t_j = j * (T / N) - 1
 *   (j = 1..N); `steps` of them are taken evenly by index from the top (floor(linspace(0, N, steps))).
 * - each step predicts x0 from the model output (epsilon or v), then applies the consistency boundary
 *   condition f(x, t) = c_skip(t) x + c_out(t) x0 with, for s = t * timestep_scaling and sigma_data = 0.5,
 *   c_skip = sigma_data^2 / (s^2 + sigma_data^2) and c_out = s / sqrt(s^2 + sigma_data^2).
 * - between steps the denoised estimate is noised again to the next timestep's level:
 *   x_next = sqrt(a_next) * denoised + sqrt(1 - a_next) * z (fresh noise z); the last step returns the
 *   denoised estimate itself.
 *
 * LCM-distilled UNets also take the guidance scale as an embedding (`timestep_cond`), not as two UNet rows:
 * `guidanceScaleEmbedding` makes it.
 */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod } from './schedule.js';
import type { CleanCoefficients, NoiseSource, Scheduler, StepResult } from './scheduler.js';

const SIGMA_DATA = 0.5;

/** c_skip and c_out of the consistency boundary condition at a discrete timestep. */
export function boundaryScalings(timestep: number, timestepScaling: number): { cSkip: number; cOut: number } {
  const s = timestep * timestepScaling;
  const d2 = SIGMA_DATA * SIGMA_DATA;
  return { cSkip: d2 / (s * s + d2), cOut: s / Math.sqrt(s * s + d2) };
}

/** The LCM timesteps for `steps` inference steps (descending). */
export function lcmTimesteps(config: SchedulerConfig, steps: number): number[] {
  const total = config.num_train_timesteps;
  const original = config.original_inference_steps;
  if (original > total)
    throw new RangeError(`original_inference_steps ${original} is more than the ${total} train timesteps`);
  if (!Number.isInteger(steps) || steps < 1 || steps > original)
    throw new RangeError(`LCM steps must be in 1..${original} (original_inference_steps), got ${steps}`);
  const k = Math.floor(total / original);
  // The distillation schedule, highest first: N*k - 1, (N-1)*k - 1, ..., k - 1.
  const origin = Array.from({ length: original }, (_, i) => (original - i) * k - 1);
  return Array.from({ length: steps }, (_, i) => origin[Math.floor((i * original) / steps)]!);
}

export class LcmScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly stochastic = true;
  private readonly alphas: Float64Array;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
  ) {
    this.alphas = alphasCumprod(config);
    this.timesteps = lcmTimesteps(config, steps);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, noise: NoiseSource): StepResult {
    const last = index === this.timesteps.length - 1;
    const clean = this.cleanCoefficients(index);
    const z = last ? null : noise();
    const aNext = last ? 1 : this.alphas[this.timesteps[index + 1]!]!;
    const sqrtANext = Math.sqrt(aNext);
    const sqrt1mANext = Math.sqrt(1 - aNext);
    const denoised = new Float32Array(sample.length);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const out = modelOutput[i]!;
      const d = clean.sample * x + clean.output * out;
      denoised[i] = d;
      prevSample[i] = z ? sqrtANext * d + sqrt1mANext * z[i]! : d;
    }
    return { prevSample, predOriginal: denoised };
  }

  /**
   * The boundary-scaled estimate the step reports: c_out x0 + c_skip x, with x0 = (x - sqrt(1 - a) eps) /
   * sqrt(a), or for v: sqrt(a) x - sqrt(1 - a) v.
   */
  cleanCoefficients(index: number): CleanCoefficients {
    const t = this.timesteps[index]!;
    const a = this.alphas[t]!;
    const { cSkip, cOut } = boundaryScalings(t, this.config.timestep_scaling);
    const x0 =
      this.config.prediction_type === 'v_prediction'
        ? { sample: Math.sqrt(a), output: -Math.sqrt(1 - a) }
        : { sample: 1 / Math.sqrt(a), output: -Math.sqrt(1 - a) / Math.sqrt(a) };
    return { sample: cOut * x0.sample + cSkip, output: cOut * x0.output };
  }

  /** img2img: the clean latents at the noise level of step `index`'s timestep (the forward process). */
  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const a = this.alphas[this.timesteps[index]!]!;
    const s = Math.sqrt(a);
    const n = Math.sqrt(1 - a);
    return original.map((x, i) => s * x + n * noise[i]!);
  }
}

/**
 * The guidance-scale embedding an LCM-distilled UNet takes as `timestep_cond` (VDM's sinusoidal embedding,
 * as the LCM pipeline's get_guidance_scale_embedding): w = guidance scale - 1, scaled by 1000; `dim` values,
 * sin then cos of w * exp(-ln(10000) * i / (dim/2 - 1)) for i < dim/2, a trailing zero when `dim` is odd.
 * Values are float32, as the pipeline computes them.
 */
export function guidanceScaleEmbedding(guidanceScale: number, dim: number): Float32Array {
  const w = Math.fround((guidanceScale - 1) * 1000);
  const half = Math.floor(dim / 2);
  const step = Math.fround(Math.log(10000) / (half - 1));
  const out = new Float32Array(dim);
  for (let i = 0; i < half; i++) {
    const angle = Math.fround(w * Math.fround(Math.exp(-i * step)));
    out[i] = Math.sin(angle);
    out[half + i] = Math.cos(angle);
  }
  return out;
}
