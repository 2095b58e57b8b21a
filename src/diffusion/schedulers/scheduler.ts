/** What the pipeline needs from a sampler. All arrays are flat latents of the whole batch. */
export interface StepResult {
  /** x_{t-1}: the latents for the next step. */
  prevSample: Float32Array;
  /** The model's current estimate of the clean latents (decoded early for `--stop`). */
  predOriginal: Float32Array;
}

/** The clean estimate as a linear function of the sample value x and the model output: sample * x + output * out. */
export interface CleanCoefficients {
  sample: number;
  output: number;
}

/** Fresh standard normal noise for one step, as long as the latents; drawn only when a sampler asks. */
export type NoiseSource = () => Float32Array;

export interface Scheduler {
  /** UNet timesteps, one per step, in the order they run. */
  readonly timesteps: readonly number[];
  /** The initial noise is multiplied by this. */
  readonly initNoiseSigma: number;
  /** Whether step() consumes fresh noise (ancestral samplers, DDIM with eta > 0). */
  readonly stochastic: boolean;
  /** The UNet input for step `index` (some samplers scale it). */
  scaleModelInput(sample: Float32Array, index: number): Float32Array;
  /** One sampler step; `noise` is called only by stochastic samplers. */
  step(modelOutput: Float32Array, index: number, sample: Float32Array, noise: NoiseSource): StepResult;
  /**
   * The clean estimate `step` reports (`predOriginal`) at step `index`, as coefficients of the sample and
   * the model output. Guidance that moves the clean estimate (latent style guidance) turns that move into
   * a change of the model output with them, whatever the sampler and prediction type.
   */
  cleanCoefficients(index: number): CleanCoefficients;
  /** Clean latents noised to the level at which step `index` starts (img2img). */
  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array;
}

/**
 * One step of a first-order sampler, value by value, with the step's coefficients already in the closures:
 * `x0` estimates the clean value from the sample value `x` and the model output `out`; `next` gives the
 * value for the next step (`z`: this value's fresh noise, 0 when the step draws none).
 */
export interface PointwiseRule {
  x0(x: number, out: number): number;
  next(x: number, out: number, x0: number, z: number): number;
}

export function stepPointwise(
  rule: PointwiseRule,
  modelOutput: Float32Array,
  sample: Float32Array,
  noise: Float32Array | null,
): StepResult {
  const prevSample = new Float32Array(sample.length);
  const predOriginal = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) {
    const x = sample[i]!;
    const out = modelOutput[i]!;
    const x0 = rule.x0(x, out);
    predOriginal[i] = x0;
    prevSample[i] = rule.next(x, out, x0, noise ? noise[i]! : 0);
  }
  return { prevSample, predOriginal };
}
