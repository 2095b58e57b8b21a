/** Noise schedule and timestep spacing shared by the samplers (diffusers' formulas, in float64). */
import type { SchedulerConfig } from '../../model/config.js';

export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const n = config.num_train_timesteps;
  const out = new Float64Array(n);
  let product = 1;
  for (let i = 0; i < n; i++) {
    const fraction = n === 1 ? 0 : i / (n - 1);
    const beta =
      config.beta_schedule === 'scaled_linear'
        ? (Math.sqrt(config.beta_start) +
            fraction * (Math.sqrt(config.beta_end) - Math.sqrt(config.beta_start))) **
          2
        : config.beta_start + fraction * (config.beta_end - config.beta_start);
    product *= 1 - beta;
    out[i] = product;
  }
  return out;
}

/** numpy.linspace(start, stop, count). */
export function linspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : start + i * step));
}

/** numpy.round: half to even. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Descending timesteps for `steps` inference steps per `timestep_spacing` (+ `steps_offset` for `leading`).
 * `roundLinspace`: DDIM rounds linspace timesteps to integers; Euler keeps them fractional.
 */
export function spacedTimesteps(config: SchedulerConfig, steps: number, roundLinspace: boolean): number[] {
  const total = config.num_train_timesteps;
  if (steps < 1 || steps > total) throw new RangeError(`steps must be in 1..${total}, got ${steps}`);
  switch (config.timestep_spacing) {
    case 'linspace': {
      const ts = linspace(0, total - 1, steps).reverse();
      return roundLinspace ? ts.map(roundHalfEven) : ts;
    }
    case 'leading': {
      const ratio = Math.floor(total / steps);
      return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + config.steps_offset);
    }
    case 'trailing': {
      const ratio = total / steps;
      const ts: number[] = [];
      for (let t = total; t > 0; t -= ratio) ts.push(roundHalfEven(t) - 1);
      return ts;
    }
  }
}

/** numpy.interp for increasing integer abscissae 0..values.length-1. */
export function interpolateAt(values: Float64Array, x: number): number {
  if (x <= 0) return values[0]!;
  const last = values.length - 1;
  if (x >= last) return values[last]!;
  const low = Math.floor(x);
  const w = x - low;
  return values[low]! * (1 - w) + values[low + 1]! * w;
}

export function sigmasFromAlphas(alphas: Float64Array): Float64Array {
  return alphas.map((a) => Math.sqrt((1 - a) / a));
}
