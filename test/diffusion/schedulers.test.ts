import { readFileSync } from 'node:fs';
import { DdimScheduler } from '../../src/diffusion/schedulers/ddim.js';
import {
  createScheduler,
  parseSchedulerName,
  UnknownSchedulerError,
} from '../../src/diffusion/schedulers/index.js';
import { schedulerConfigSchema } from '../../src/model/config.js';

/** Reference trajectories written by scripts/make-scheduler-fixtures.py (numpy, diffusers' formulas). */
interface Case {
  scheduler: 'ddim' | 'euler-ancestral' | 'dpmpp-2m-karras';
  eta?: number;
  config: Record<string, unknown>;
  steps: number;
  timesteps: number[];
  sigmas?: number[];
  init_noise_sigma: number;
  trajectory: number[][];
  add_noise: { index: number; result: number[] };
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/schedulers.json', import.meta.url), 'utf8')) as {
  sample: number[];
  noises: number[][];
  ramp: number[];
  clean: number[];
  cases: Case[];
};

function toyModel(x: Float32Array, t: number): Float32Array {
  return x.map((v, i) => 0.5 * v + 0.01 * (t / 1000) * fixture.ramp[i]!);
}

function label(c: Case): string {
  const cfg = c.config;
  return `${c.scheduler}${c.eta ? ' eta=1' : ''} ${cfg['timestep_spacing']}+${cfg['steps_offset']} ${cfg['prediction_type']} ${cfg['beta_schedule']} ${c.steps} steps`;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(e)));
  }
}

describe.each(fixture.cases.map((c) => [label(c), c] as const))('%s', (_name, c) => {
  const config = schedulerConfigSchema.parse(c.config);
  const scheduler =
    c.scheduler === 'ddim'
      ? new DdimScheduler(config, c.steps, c.eta ?? 0)
      : createScheduler(c.scheduler, config, c.steps);

  test('timesteps, sigmas and initial noise scale match the reference', () => {
    expectClose(scheduler.timesteps, c.timesteps, 1e-9);
    if (c.sigmas) expectClose((scheduler as unknown as { sigmas: number[] }).sigmas, c.sigmas, 1e-9);
    expect(scheduler.initNoiseSigma).toBeCloseTo(c.init_noise_sigma, 9);
  });

  test('a full trajectory with a toy model matches the reference', () => {
    let x: Float32Array = Float32Array.from(fixture.sample, (v) => v * scheduler.initNoiseSigma);
    scheduler.timesteps.forEach((t, i) => {
      const out = toyModel(scheduler.scaleModelInput(x, i), t);
      x = scheduler.step(out, i, x, () => Float32Array.from(fixture.noises[i]!)).prevSample;
      // float32 latents against a float64 reference: relative error stays at float32 rounding level.
      expectClose(x, c.trajectory[i]!, 2e-5);
    });
  });
});

describe.each(fixture.cases.map((c) => [label(c), c] as const))('img2img noising: %s', (_name, c) => {
  test('addNoise at the middle step matches the reference', () => {
    const config = schedulerConfigSchema.parse(c.config);
    const scheduler =
      c.scheduler === 'ddim'
        ? new DdimScheduler(config, c.steps)
        : createScheduler(c.scheduler, config, c.steps);
    const noised = scheduler.addNoise(
      Float32Array.from(fixture.clean),
      Float32Array.from(fixture.noises[0]!),
      c.add_noise.index,
    );
    expectClose(noised, c.add_noise.result, 2e-6);
  });
});

test('an unknown scheduler name is an error that lists the valid ones', () => {
  expect(() => parseSchedulerName('plms')).toThrow(UnknownSchedulerError);
  expect(() => parseSchedulerName('plms')).toThrow(/dpmpp-2m-karras, euler-ancestral, ddim/);
});
