/**
 * DPM-Solver++(2M) with Karras sigmas (Lu et al. 2022; Karras et al. 2022), as diffusers'
 * DPMSolverMultistepScheduler(algorithm_type='dpmsolver++', solver_order=2, solver_type='midpoint',
 * use_karras_sigmas=True, lower_order_final=True, final_sigmas_type='zero'). Samples stay in VP form
 * (x = alpha x0 + sigma eps), so the UNet input is not rescaled. Karras sigmas replace the spacing rule.
 */
import type { SchedulerConfig } from '../../model/config.js';
import { alphasCumprod, linspace, roundHalfEven, sigmasFromAlphas } from './schedule.js';
import type { CleanCoefficients, Scheduler, StepResult } from './scheduler.js';

const RHO = 7;

/** diffusers' _sigma_to_t: interpolate the (fractional) train timestep whose log-sigma matches. */
function sigmaToTimestep(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

function alphaSigma(sigma: number): [number, number] {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return [alpha, sigma * alpha];
}

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  private previousX0: Float32Array | null = null;
  private lowerOrderCount = 0;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
  ) {
    const trainSigmas = sigmasFromAlphas(alphasCumprod(config));
    const logSigmas = trainSigmas.map(Math.log);
    const sigmaMin = trainSigmas[0]!;
    const sigmaMax = trainSigmas[trainSigmas.length - 1]!;
    const maxInv = sigmaMax ** (1 / RHO);
    const minInv = sigmaMin ** (1 / RHO);
    const karras = linspace(0, 1, steps).map((r) => (maxInv + r * (minInv - maxInv)) ** RHO);
    this.timesteps = karras.map((s) => roundHalfEven(sigmaToTimestep(s, logSigmas)));
    this.sigmas = [...karras, 0];
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): StepResult {
    const [alphaS, sigmaS] = alphaSigma(this.sigmas[index]!);
    const [alphaT, sigmaT] = alphaSigma(this.sigmas[index + 1]!);
    const clean = this.cleanCoefficients(index);
    const x0 = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++)
      x0[i] = clean.sample * sample[i]! + clean.output * modelOutput[i]!;
    const lambdaT = Math.log(alphaT) - Math.log(sigmaT);
    const lambdaS0 = Math.log(alphaS) - Math.log(sigmaS);
    const h = lambdaT - lambdaS0;
    // The last step lands on sigma = 0 and is always first order (lower_order_final with a zero final sigma).
    const last = index === this.timesteps.length - 1;
    const ratio = sigmaT / sigmaS;
    const coefficient = alphaT * (Math.exp(-h) - 1);
    const prevSample = new Float32Array(sample.length);
    const previous = this.previousX0;
    if (this.lowerOrderCount < 1 || last || !previous) {
      for (let i = 0; i < sample.length; i++) prevSample[i] = ratio * sample[i]! - coefficient * x0[i]!;
    } else {
      const [alphaS1, sigmaS1] = alphaSigma(this.sigmas[index - 1]!);
      const lambdaS1 = Math.log(alphaS1) - Math.log(sigmaS1);
      const r0 = (lambdaS0 - lambdaS1) / h;
      for (let i = 0; i < sample.length; i++) {
        const d1 = (x0[i]! - previous[i]!) / r0;
        prevSample[i] = ratio * sample[i]! - coefficient * x0[i]! - 0.5 * coefficient * d1;
      }
    }
    this.previousX0 = x0;
    this.lowerOrderCount = Math.min(this.lowerOrderCount + 1, 2);
    return { prevSample, predOriginal: x0 };
  }

  /** x = alpha x0 + sigma eps: x0 = (x - sigma eps) / alpha, or for v: alpha x - sigma v. */
  cleanCoefficients(index: number): CleanCoefficients {
    const [alpha, sigma] = alphaSigma(this.sigmas[index]!);
    return this.config.prediction_type === 'v_prediction'
      ? { sample: alpha, output: -sigma }
      : { sample: 1 / alpha, output: -sigma / alpha };
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number): Float32Array {
    const [alpha, sigma] = alphaSigma(this.sigmas[index]!);
    return original.map((x, i) => alpha * x + sigma * noise[i]!);
  }
}
