/** What the pipeline needs from a sampler. All arrays are flat latents of the whole batch. */
export interface StepResult {
  /** x_{t-1}: the latents for the next step. */
  prevSample: Float32Array;
  /** The model's current estimate of the clean latents (decoded early for `--stop`). */
  predOriginal: Float32Array;
}

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
  step(modelOutput: Float32Array, index: number, sample: Float32Array, noise: () => Float32Array): StepResult;
  /** Clean latents noised to the level at which step `index` starts (img2img). */
  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array;
}
